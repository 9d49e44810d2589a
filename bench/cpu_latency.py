"""Typing mid-file on a CPU: our model runtime against llama.cpp on the same weights.

    python bench/cpu_latency.py [--shape qwen2.5-coder-0.5b|qwen2.5-coder-1.5b | --model DIR]
        [--keystrokes 6]
        [--context 1500] [--suffix-lines 30] [--new-tokens 16] [--threads 0]
        [--engines float32,float16,int8,ours-llama-F16,ours-llama-Q8_0,llama-Q8_0,llama-Q4_0]
        [--agreement-prompts 16]

A RANDOM-WEIGHT model of Qwen2.5-Coder-0.5B's exact shape (1.5B: ``--shape
qwen2.5-coder-1.5b``) gets FIM prompts of real Python source: ``--context`` tokens before the
cursor and ``--suffix-lines`` lines after it (typing mid-file: PSM puts the suffix after the
prefix, so it is prefilled again on every keystroke). Each keystroke types the next character
of the line at the cursor and asks for ``--new-tokens`` greedy tokens (end-of-text suppressed,
so every request decodes the same length). ``--model`` times a model folder instead, e.g. the
shipped ``models/evoselfcode-small`` (its context is 512 tokens: ``--context 300
--suffix-lines 8``). The first request of each engine fills its cache
(the cold figure); the keystrokes after it are the session. Engines take turns keystroke by
keystroke, so other load on the machine hits them alike.

Engines: ours through ``models.load_model`` (``LocalModel``: its KV prefix cache and
prompt-lookup speculation) on transformers with float32, float16 and int8 weights
(``models.cpu_weights``), and on llama.cpp's kernels (backend ``llama.cpp``,
``models.llama_engine``) at F16 and Q8_0; against plain llama.cpp through llama-cpp-python on
the same weights converted to GGUF (``models.gguf_export``) at Q8_0 and Q4_0, keeping the
longest common prefix's keys and values between requests (``models.llama_cpp_session``), as
llama.cpp's server does for llama.vscode. All are fed the same token ids.

Decoding reads every weight once per token, so this machine's memory bandwidth bounds it; the
bandwidth is measured in the same run (summing a 1 GiB tensor on the same threads) and each
engine's decode is shown against that bound. Greedy agreement with float32 is measured on the
trained model in models/evoselfcode-small (its held-out files), when it is there.

Last line: JSON with ``ratio`` = the p50 per keystroke of our default CPU path (what backend
``auto`` and ``quantization: auto`` pick for this model here) over llama.cpp Q8_0's, ``target``
1.0. Without
the optional llama extra the llama.cpp engines are skipped, with the command to install it,
and ``ratio`` is null. Defaults: 6 keystrokes, a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models import SamplingParams, fim_prompt, load_model  # noqa: E402
from models.bench_shapes import SHAPES, add_model_arguments, bench_model_dir, set_threads  # noqa: E402
from models.device import choose_quantization  # noqa: E402
from models.errors import UnsupportedError  # noqa: E402
from models.loading import choose_backend  # noqa: E402
from models.local import LocalModel  # noqa: E402
from models.torch_engine import TorchEngine  # noqa: E402

TARGET = 1.0
TRAINED_MODEL = REPO / "models" / "evoselfcode-small"
TORCH_ENGINES = {"float32": "none", "float16": "16bit", "int8": "8bit"}  # -> quantization
# ours on llama.cpp (backend llama.cpp) -> quantization; what ``auto`` picks there comes first
OUR_LLAMA_ENGINES = {"ours-llama-F16": "16bit", "ours-llama-Q8_0": "8bit"}
LLAMA_ENGINES = {"llama-Q8_0": "Q8_0", "llama-Q4_0": "Q4_0"}  # -> GGUF file type


@dataclass
class Engine:
    name: str
    generate: Callable[..., Any]  # (ids, new_tokens, min_new_tokens) -> Result
    weight_bytes: int  # read per decoded token
    close: Callable[[], None] = lambda: None
    latency_ms: list[float] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    token_ids: tuple[int, ...]
    prompt_tokens: int
    cached_tokens: int
    prefill_ms: float
    decode_ms: float


def our_engine(name: str, model: LocalModel) -> Engine:
    def generate(ids: list[int], new_tokens: int, min_new_tokens: int) -> Result:
        params = SamplingParams(max_new_tokens=new_tokens, min_new_tokens=min_new_tokens)
        g = model.generate(ids, params)
        return Result(g.token_ids, g.prompt_tokens, g.cached_tokens, g.prefill_ms, g.decode_ms)

    engine = model.engine
    if isinstance(engine, TorchEngine):
        weight_bytes = torch_weight_bytes(engine.hf_model)
    else:
        weight_bytes = engine.path.stat().st_size
    return Engine(name, generate, weight_bytes, close=model.close)


def load_ours(folder: Path, name: str, device: str, gguf_cache: str) -> LocalModel:
    """Engine ``name`` of ours (``TORCH_ENGINES`` or ``OUR_LLAMA_ENGINES``) on ``folder``."""
    if name in OUR_LLAMA_ENGINES:
        model = load_model(
            folder,
            backend="llama.cpp",
            quantization=OUR_LLAMA_ENGINES[name],
            data_dir=Path(gguf_cache) / "ours",
        )
    else:
        model = load_model(folder, device=device, quantization=TORCH_ENGINES[name])
    assert isinstance(model, LocalModel)
    return model


def torch_weight_bytes(hf_model: Any) -> int:
    """Bytes of weights one decoded token reads: all but the embedding rows not looked up
    (a tied float output head reads the whole embedding)."""
    from models.cpu_weights import PackedLinear

    embedding = hf_model.get_input_embeddings().weight
    output = hf_model.get_output_embeddings()
    total = 0
    for module in hf_model.modules():
        if isinstance(module, PackedLinear):
            total += module.packed_bytes()
        for name, param in module.named_parameters(recurse=False):
            if isinstance(module, PackedLinear) and name == "weight":
                continue
            if param is embedding and getattr(output, "weight", None) is not embedding:
                continue
            total += param.numel() * param.element_size()
    return total


def llama_engine(name: str, gguf: Path, context: int, threads: int, stop_ids: list[int]) -> Engine:
    from models.llama_cpp_session import LlamaCppSession

    session = LlamaCppSession(gguf, context=context, threads=threads)

    def generate(ids: list[int], new_tokens: int, min_new_tokens: int) -> Result:
        r = session.generate(ids, new_tokens, stop_ids=stop_ids, min_new_tokens=min_new_tokens)
        return Result(r.token_ids, r.prompt_tokens, r.cached_tokens, r.prefill_ms, r.decode_ms)

    return Engine(name, generate, gguf.stat().st_size, close=session.close)


def read_bandwidth_gbs(threads: int) -> float:
    """Bytes/s summing a 1 GiB float32 tensor: what reading weights can reach here."""
    import torch

    data = torch.ones(2**28, dtype=torch.float32)
    best = float("inf")
    for _ in range(4):
        t0 = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - t0)
    del data
    return 2**30 / best / 1e9


def session_text() -> str:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return "".join(
        (stdlib / name).read_text(encoding="utf-8") for name in ("argparse.py", "json/decoder.py")
    )


def keystroke_prompts(model: LocalModel, context: int, suffix_lines: int, count: int) -> list:
    """``count + 1`` prompts: the cursor after ``context`` tokens of whole lines, the next
    line typed one character more each time, ``suffix_lines`` lines after it."""
    text = session_text()
    lines = text.splitlines(keepends=True)
    cursor = tokens = 0
    for line, n in zip(lines, model.count_tokens_batch(lines), strict=True):
        if tokens >= context:
            break
        cursor, tokens = cursor + len(line), tokens + n
    line_end = text.index("\n", cursor) + 1
    while line_end - cursor < count + 2:  # a line long enough to type ``count`` characters of
        cursor, line_end = line_end, text.index("\n", line_end) + 1
    suffix_end = line_end
    for _ in range(suffix_lines):
        suffix_end = text.index("\n", suffix_end) + 1
    typed, suffix = text[cursor:line_end], text[line_end:suffix_end]
    return [model.encode(fim_prompt(text[:cursor] + typed[:i], suffix)) for i in range(count + 1)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    # a user's machine is idle while they type: every core (0 = torch's default, one per core)
    parser.set_defaults(shape="qwen2.5-coder-0.5b", threads=0)
    parser.add_argument("--model", help="a model folder to time instead of a random shape")
    parser.add_argument("--keystrokes", type=int, default=6)
    parser.add_argument("--context", type=int, default=1500, help="tokens before the cursor")
    parser.add_argument("--suffix-lines", type=int, default=30)
    parser.add_argument("--new-tokens", type=int, default=16)
    every = [*TORCH_ENGINES, *OUR_LLAMA_ENGINES, *LLAMA_ENGINES]
    parser.add_argument("--engines", default=",".join(every))
    parser.add_argument("--agreement-prompts", type=int, default=16)
    parser.add_argument("--agreement-tokens", type=int, default=32)
    parser.add_argument(
        "--gguf-cache", default=str(Path(tempfile.gettempdir()) / "evoselfcode-bench-gguf")
    )
    args = parser.parse_args()
    threads = set_threads(args.threads)
    wanted = [e for e in args.engines.split(",") if e]
    unknown = sorted(set(wanted) - set(every))
    if unknown:
        parser.error(f"unknown engines {unknown}; known: {every}")

    if args.model:
        folder = Path(args.model)
    else:
        print(f"building/loading the RANDOM-WEIGHT '{args.shape}' model...", file=sys.stderr)
        folder = bench_model_dir(args.shape)
    weight_file_bytes = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    if choose_backend("auto", "cpu") == "llama.cpp":
        default_engine = next(iter(OUR_LLAMA_ENGINES))  # quantization auto: F16
    else:
        default_quant = choose_quantization("auto", "cpu", weight_file_bytes)
        default_engine = next(n for n, q in TORCH_ENGINES.items() if q == default_quant)
    llama_missing = _llama_missing()
    if llama_missing:
        print(f"llama.cpp engines skipped: {llama_missing}")
        wanted = [n for n in wanted if n not in OUR_LLAMA_ENGINES and n not in LLAMA_ENGINES]
    engines: list[Engine] = []
    models: dict[str, LocalModel] = {}
    for name in wanted:
        if name in TORCH_ENGINES or name in OUR_LLAMA_ENGINES:
            models[name] = load_ours(folder, name, args.device, args.gguf_cache)
            engines.append(our_engine(name, models[name]))
    tokenizer_model = next(iter(models.values()), None) or _plain(folder)
    prompts = keystroke_prompts(tokenizer_model, args.context, args.suffix_lines, args.keystrokes)
    stop_ids = sorted(tokenizer_model.codec.stop_ids)
    if not llama_missing:
        from models.gguf_export import gguf_file

        for name in wanted:
            if name in LLAMA_ENGINES:
                print(f"converting to GGUF {LLAMA_ENGINES[name]} (cached)...", file=sys.stderr)
                path = gguf_file(folder, LLAMA_ENGINES[name], args.gguf_cache)
                engines.append(llama_engine(name, path, len(prompts[-1]) + 64, threads, stop_ids))

    bandwidth = read_bandwidth_gbs(threads)
    new, cold = args.new_tokens, {}
    for engine in engines:  # cold: the whole prompt
        cold[engine.name] = engine.generate(prompts[0], new, new)
    for ids in prompts[1:]:
        for engine in engines:
            t0 = time.perf_counter()
            result = engine.generate(ids, new, new)
            engine.latency_ms.append((time.perf_counter() - t0) * 1000)
            engine.results.append(result)

    agreement = measure_agreement(wanted, args, threads) if TRAINED_MODEL.is_dir() else {}
    for engine in engines:
        engine.close()
    return report(
        engines, cold, agreement, args, threads, bandwidth, default_engine, prompts, folder
    )


def _llama_missing() -> str | None:
    from models.gguf_export import require_llama_extra

    try:
        require_llama_extra()
    except UnsupportedError as exc:
        return str(exc)
    return None


def _plain(folder: Path) -> LocalModel:
    model = load_model(folder, quantization="none")
    assert isinstance(model, LocalModel)
    return model


def measure_agreement(wanted: list[str], args: argparse.Namespace, threads: int) -> dict:
    """Greedy agreement of each engine with float32 on the trained model's held-out files."""
    from evolution.pretrain.heldout import heldout_files
    from models.agreement import fim_cuts, greedy_agreement

    print("measuring greedy agreement on the trained model...", file=sys.stderr)
    reference = _plain(TRAINED_MODEL)
    texts = [text for _, text in heldout_files(TRAINED_MODEL).files]
    budget = reference.info.context_window - args.agreement_tokens
    prompts = fim_cuts(
        texts,
        args.agreement_prompts,
        count_tokens=reference.count_tokens,
        prefix_tokens=budget * 2 // 3,
        suffix_tokens=budget // 4,
    )
    ids = [reference.encode(p) for p in prompts]
    stop_ids = sorted(reference.codec.stop_ids)
    params = SamplingParams(max_new_tokens=args.agreement_tokens)
    expected = [reference.generate(i, params).token_ids for i in ids]
    found: dict[str, Any] = {}
    for name in wanted:
        if name in TORCH_ENGINES or name in OUR_LLAMA_ENGINES:
            model = load_ours(TRAINED_MODEL, name, args.device, args.gguf_cache)
            got = [model.generate(i, params).token_ids for i in ids]
            model.close()
        elif not _llama_missing():
            from models.gguf_export import gguf_file
            from models.llama_cpp_session import LlamaCppSession

            path = gguf_file(TRAINED_MODEL, LLAMA_ENGINES[name], args.gguf_cache)
            session = LlamaCppSession(path, context=reference.info.context_window, threads=threads)
            got = [
                session.generate(i, args.agreement_tokens, stop_ids=stop_ids).token_ids for i in ids
            ]
            session.close()
        else:
            continue
        found[name] = greedy_agreement(expected, got)
    return found


def report(
    engines: list[Engine],
    cold: dict[str, Result],
    agreement: dict,
    args: argparse.Namespace,
    threads: int,
    bandwidth: float,
    default_engine: str,
    prompts: list[list[int]],
    folder: Path,
) -> int:
    what = folder if args.model else f"RANDOM WEIGHTS, shape {args.shape} {SHAPES[args.shape]}"
    print(f"model: {what}, cpu, {threads} threads")
    print(
        f"session: {args.keystrokes} keystrokes after a cold request, one character each, "
        f"prompt {len(prompts[-1])} tokens ({args.suffix_lines} lines after the cursor), "
        f"{args.new_tokens} new tokens each; read bandwidth {bandwidth:.1f} GB/s"
    )
    rows: dict[str, dict[str, Any]] = {}
    for e in engines:
        c = cold[e.name]
        decode_ms = statistics.median(r.decode_ms / max(1, len(r.token_ids) - 1) for r in e.results)
        prefilled = statistics.median(r.prompt_tokens - r.cached_tokens for r in e.results)
        bound_ms = e.weight_bytes / (bandwidth * 1e9) * 1000
        rows[e.name] = {
            "p50_ms": round(statistics.median(e.latency_ms), 1),
            "p95_ms": round(pct(e.latency_ms, 0.95), 1),
            "cold_prefill_tokens_per_s": round(c.prompt_tokens / (c.prefill_ms / 1000), 1),
            "keystroke_prefill_tokens": prefilled,
            "keystroke_prefill_ms": round(statistics.median(r.prefill_ms for r in e.results), 1),
            "decode_tokens_per_s": round(1000 / decode_ms, 2),
            "decode_ms_per_token": round(decode_ms, 1),
            "decode_bound_ms_per_token": round(bound_ms, 1),
            "weights_mb_per_token": round(e.weight_bytes / 1e6),
        }
        if e.name in agreement:
            a = agreement[e.name]
            rows[e.name]["agreement_identical"] = round(a.identical, 3)
            rows[e.name]["agreement_tokens"] = round(a.tokens, 3)
    for name in agreement:
        if name not in rows:
            rows[name] = {"agreement_identical": round(agreement[name].identical, 3)}
    header = "engine            p50 ms  p95 ms  cold prefill tok/s  keystroke prefill  decode tok/s"
    print(header + "  (ms/token vs bandwidth bound)  agreement")
    for name, r in rows.items():
        if "p50_ms" not in r:
            continue
        mark = " *" if name == default_engine else ""
        agree = (
            f"{r['agreement_identical']:.0%} identical, {r['agreement_tokens']:.0%} tokens"
            if "agreement_tokens" in r
            else "-"
        )
        print(
            f"{name + mark:<17} {r['p50_ms']:7.0f} {r['p95_ms']:7.0f} "
            f"{r['cold_prefill_tokens_per_s']:19.1f} "
            f"{r['keystroke_prefill_tokens']:5.0f} tok {r['keystroke_prefill_ms']:6.0f} ms "
            f"{r['decode_tokens_per_s']:12.2f}  ({r['decode_ms_per_token']:.0f} vs "
            f"{r['decode_bound_ms_per_token']:.0f} for {r['weights_mb_per_token']} MB)  {agree}"
        )
    if agreement:
        print(
            f"agreement: greedy {args.agreement_tokens} tokens on {args.agreement_prompts} FIM "
            f"cuts of {TRAINED_MODEL.name}'s held-out files, against its float32 output"
        )
    print("* our default CPU path for this model (backend and quantization 'auto')")
    ours = rows.get(default_engine, {}).get("p50_ms")
    theirs = rows.get("llama-Q8_0", {}).get("p50_ms")
    ratio = round(ours / theirs, 3) if ours and theirs else None
    print(
        f"ratio {ratio} (target <= {TARGET}): our default p50 / llama.cpp Q8_0 p50"
        if ratio is not None
        else "ratio: n/a (needs both our default engine and llama-Q8_0)"
    )
    print(
        json.dumps(
            {
                "bench": "cpu_latency",
                "ratio": ratio,
                "target": TARGET,
                "target_met": ratio is not None and ratio <= TARGET,
                "default_engine": default_engine,
                "engines": rows,
                "read_bandwidth_gb_s": round(bandwidth, 2),
                "keystrokes": args.keystrokes,
                "prompt_tokens": len(prompts[-1]),
                "new_tokens": args.new_tokens,
                "shape": None if args.model else args.shape,
                "model": str(folder) if args.model else None,
                "threads": threads,
                "random_weights": not args.model,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
