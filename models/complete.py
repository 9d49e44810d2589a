"""``evoselfcode complete``: one fill-in-the-middle completion from the shell."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from models.errors import InvalidRequestError, ModelLoadError


@dataclass(frozen=True)
class CompletionRequest:
    file: str
    line: int
    col: int
    model: str
    models_dir: str | None = None
    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 0.95
    context_tokens: int = 1536
    prefix_share: float = 0.75
    timeout_s: float = 60.0
    repo_name: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    quantization: str = "auto"
    backend: str = "auto"
    remote_url: str | None = None
    remote_model: str | None = None
    api_key: str | None = None


def read_source(path: str | Path) -> tuple[str, str | None]:
    """The file's text and a warning when it was not valid UTF-8 (bad bytes become U+FFFD)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        warning = (
            f"{path} is not valid UTF-8 (first bad byte at offset {exc.start}); "
            "undecodable bytes were replaced with U+FFFD"
        )
        return data.decode("utf-8", errors="replace"), warning


def split_at(text: str, line: int, col: int) -> tuple[str, str]:
    """(prefix, suffix) around 1-based ``line``:``col``; col counts characters."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        raise InvalidRequestError(f"line {line} is outside the file (it has {len(lines)} lines)")
    current = lines[line - 1].removesuffix("\r")
    if not 1 <= col <= len(current) + 1:
        raise InvalidRequestError(
            f"column {col} is outside line {line}, which has {len(current)} characters "
            f"(columns 1 to {len(current) + 1})"
        )
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + col - 1
    return text[:offset], text[offset:]


def run_completion(req: CompletionRequest, *, as_json: bool = False) -> int:
    from models.loading import load_model
    from models.prompts import InfillContext, build_infill_prompt
    from models.types import SamplingParams

    text, warning = read_source(req.file)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    prefix, suffix = split_at(text, req.line, req.col)
    params = SamplingParams(
        max_new_tokens=req.max_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        time_limit_s=req.timeout_s,
    )
    model = load_model(
        req.model,
        device=req.device,
        dtype=req.dtype,
        quantization=req.quantization,
        models_dir=req.models_dir,
        backend=req.backend,
        remote_base_url=req.remote_url,
        remote_model=req.remote_model,
        api_key=req.api_key,
    )
    info = model.info
    note = " - RANDOM WEIGHTS: the output is junk" if info.random_weights else ""
    print(
        f"model: {info.name} ({info.kind}, {info.backend}, {info.device}, {info.dtype}){note}",
        file=sys.stderr,
    )
    if info.kind == "instruct":
        print("note: base models fill in the middle better than instruct ones", file=sys.stderr)
    ctx = InfillContext(
        prefix, suffix, path=Path(req.file).name if req.repo_name else None, repo_name=req.repo_name
    )
    infill = build_infill_prompt(model, ctx, req.context_tokens, req.prefix_share)
    stream = None if as_json else _write_stdout
    params = dataclasses.replace(params, heal=infill.heal)
    generation = model.generate(infill.prompt, params, on_text=stream)
    if as_json:
        result = {
            "text": generation.text,
            "finish_reason": generation.finish_reason,
            "prompt_tokens": generation.prompt_tokens,
            "new_tokens": generation.new_tokens,
            "prefill_ms": round(generation.prefill_ms, 1),
            "decode_ms": round(generation.decode_ms, 1),
            "prefix_chars_dropped": infill.prefix_start,
            "suffix_chars_dropped": len(suffix) - infill.suffix_end,
            "model": info.name,
            "random_weights": info.random_weights,
            "utf8_replaced": warning is not None,
        }
        print(json.dumps(result))
    elif sys.stdout.isatty() and not generation.text.endswith("\n"):
        print()
    print(
        f"finish: {generation.finish_reason}; {generation.new_tokens} new tokens after a "
        f"{generation.prompt_tokens}-token prompt; prefill {generation.prefill_ms:.0f} ms, "
        f"decode {generation.decode_ms:.0f} ms",
        file=sys.stderr,
    )
    model.close()
    return 0


def _write_stdout(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()
