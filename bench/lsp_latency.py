"""Inline-completion latency through the real LSP transport vs calling ``models/`` directly.

A scripted typing session (keystrokes as ``didChange``, a completion request after each few,
some suggestions partly accepted the way VS Code's "accept word" does) runs against
``python -m server serve`` over stdio, with debounce 0. At every request the same model,
loaded in this process, is also called directly on the same document state with the same
prompt (``build_infill_prompt`` + ``generate``, same settings); the two are timed back to back,
alternating which goes first, so a busy shared machine slows both alike. Both medians, both
p95s, the cache hit rate and the mean prefilled tokens are printed; the last line is JSON with
``ratio`` = median LSP / median direct and ``target`` 1.15 (plus the ratio over the requests
that ran the model, without cache hits).

The model is a benchmark-sized random Qwen2 (hidden 512, 8 layers; RANDOM WEIGHTS) whose
special tokens and line breaks are silenced, so every generation runs to ``max_new_tokens``
on both paths and model time dominates as it would with real weights.

    python bench/lsp_latency.py [--keystrokes N] [--max-tokens N] [--model DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from models.bench_shapes import SHAPES, bench_model_dir

TARGET = 1.15
DOCUMENT = "shop/inventory.py"
CONTEXT_TOKENS, PREFIX_SHARE = 1536, 0.75  # the server's defaults
SESSION = '''"""Inventory of a small shop."""

from dataclasses import dataclass


@dataclass
class Item:
    name: str
    price: float
    quantity: int

    def total(self) -> float:
        return self.price * self.quantity


def inventory_value(items: list[Item]) -> float:
    value = 0.0
    for item in items:
        value += item.total()
    return value


def cheapest(items: list[Item]) -> Item | None:
    if not items:
        return None
    return min(items, key=lambda item: item.price)
'''


@dataclass(frozen=True)
class Request:
    text: str  # the document when the request was sent
    line: int
    character: int


@dataclass
class Timing:
    ms: float
    cached: bool = False
    prefilled: int | None = None


def build_model(target: Path) -> Path:
    """A copy of the shared benchmark-shape random model that never stops before max tokens."""
    from models.smoke import silence_tokens

    shutil.copytree(bench_model_dir("bench"), target)
    silence_tokens(target)
    return target


def settings(model_dir: Path, max_tokens: int) -> dict:
    return {
        "model": str(model_dir),
        "device": "cpu",
        "dtype": "float32",
        "logLevel": "warning",
        "completion": {
            "debounceMs": 0,
            "maxTokens": max_tokens,
            "timeoutMs": 60000,
            "contextTokens": CONTEXT_TOKENS,
            "prefixShare": PREFIX_SHARE,
            # The direct path has no background work: prefetching would time something else.
            "prefetch": False,
        },
    }


def position_of(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines) - 1, len(lines[-1])  # ASCII session: code points == UTF-16 units


class Direct:
    """The same model loaded in this process, called with the prompts the server builds."""

    def __init__(self, model_dir: Path, workspace: Path, max_tokens: int):
        from models import SamplingParams, load_model
        from server.documents import LineWorkspace

        self.model = load_model(str(model_dir), device="cpu", dtype="float32")
        folder = types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)
        self.workspace = LineWorkspace(
            workspace.as_uri(), types.TextDocumentSyncKind.Incremental, [folder]
        )
        self.uri = (workspace / DOCUMENT).as_uri()
        self.params = SamplingParams(max_new_tokens=max_tokens, time_limit_s=60.0)

    def time(self, request: Request) -> Timing:
        from models import InfillContext, build_infill_prompt
        from server.context import infill_window
        from server.documents import LineDocument, cursor_at

        document = LineDocument(self.uri, request.text)
        position = types.Position(line=request.line, character=request.character)
        window = infill_window(
            self.workspace,
            document,
            cursor_at(document, position),
            context_tokens=CONTEXT_TOKENS,
            prefix_share=PREFIX_SHARE,
            open_documents=True,
        )
        started = time.perf_counter()
        infill = build_infill_prompt(
            self.model,
            InfillContext(window.prefix, window.suffix, window.path, window.repo_name),
            budget_tokens=CONTEXT_TOKENS,
            prefix_share=PREFIX_SHARE,
        )
        generation = self.model.generate(infill.prompt, self.params)
        elapsed = (time.perf_counter() - started) * 1000
        return Timing(elapsed, prefilled=generation.prompt_tokens - generation.cached_tokens)


class Session:
    """The editor side: a document typed into, over a real stdio LSP connection."""

    def __init__(self, client: LanguageClient, uri: str):
        self.client, self.uri = client, uri
        self.text, self.version = "", 1

    @classmethod
    async def start(cls, model_dir: Path, workspace: Path, max_tokens: int) -> Session:
        client = LanguageClient("lsp-latency-bench", "1")
        states: list[str] = []
        client.feature("evoselfcode/status")(lambda ls, p: states.append(getattr(p, "state", "")))
        await client.start_io(sys.executable, "-m", "server", "serve")
        capabilities = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(
                inline_completion=types.InlineCompletionClientCapabilities()
            )
        )
        await client.initialize_async(
            types.InitializeParams(
                capabilities=capabilities,
                root_uri=workspace.as_uri(),
                workspace_folders=[
                    types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)
                ],
                initialization_options=settings(model_dir, max_tokens),
            )
        )
        client.initialized(types.InitializedParams())
        while "ready" not in states:
            if "failed" in states:
                raise SystemExit("the server could not load the benchmark model")
            await asyncio.sleep(0.05)
        session = cls(client, (workspace / DOCUMENT).as_uri())
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=session.uri, language_id="python", version=1, text=""
                )
            )
        )
        return session

    def insert(self, piece: str) -> None:
        line, character = position_of(self.text)
        at = types.Position(line=line, character=character)
        self.version += 1
        self.text += piece
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=at, end=at), text=piece
                    )
                ],
            )
        )

    def request(self) -> Request:
        return Request(self.text, *position_of(self.text))

    async def ask(self, request: Request) -> tuple[Timing, str]:
        """One inline completion, timed from sending to the answer; and the text shown."""
        params = types.InlineCompletionParams(
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
            text_document=types.TextDocumentIdentifier(uri=self.uri),
            position=types.Position(line=request.line, character=request.character),
        )
        hits_before = (await self.status())["cacheHits"]
        started = time.perf_counter()
        result = await self.client.text_document_inline_completion_async(params)
        elapsed = (time.perf_counter() - started) * 1000
        cached = (await self.status())["cacheHits"] > hits_before
        items = result.items if isinstance(result, types.InlineCompletionList) else result or []
        return Timing(elapsed, cached), str(items[0].insert_text) if items else ""

    async def status(self) -> dict:
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="evoselfcode.status")
        )
        return _plain(result)["completions"]

    async def close(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def _plain(value):
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    return value


def _mean_prefilled(before: dict, after: dict) -> float:
    """Mean prefilled tokens of the model runs between two status snapshots."""

    def total(counts: dict) -> float:
        return (counts["meanPrefilledTokens"] or 0) * counts["generated"]

    runs = after["generated"] - before["generated"]
    return (total(after) - total(before)) / runs if runs else 0.0


async def run_session(
    model_dir: Path, workspace: Path, keystrokes: int, max_tokens: int
) -> tuple[list[Timing], list[Timing], float]:
    """Type the session; at each request point time the LSP answer and the direct call on
    the same document, alternating which goes first, so both see the same machine load."""
    direct = Direct(model_dir, workspace, max_tokens)
    session = await Session.start(model_dir, workspace, max_tokens)
    lsp_times: list[Timing] = []
    direct_times: list[Timing] = []

    async def measure() -> str:
        request = session.request()
        if len(lsp_times) % 2:
            direct_times.append(direct.time(request))
            timing, shown = await session.ask(request)
        else:
            timing, shown = await session.ask(request)
            direct_times.append(direct.time(request))
        lsp_times.append(timing)
        return shown

    await session.ask(session.request())  # warm-up of both, not counted
    direct.time(session.request())
    before = await session.status()
    for index, char in enumerate(SESSION[:keystrokes]):
        session.insert(char)
        if index % 3 != 2 and char != "\n":
            continue  # a request on every third keystroke and at each new line
        shown = await measure()
        if len(lsp_times) % 4 == 0 and len(shown) > 8:
            session.insert(shown[:4])  # accept a word of the suggestion, as VS Code does
            await measure()
    prefilled = _mean_prefilled(before, await session.status())
    await session.close()
    direct.model.close()
    return lsp_times, direct_times, prefilled


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--keystrokes", type=int, default=240, help=f"how much of the {len(SESSION)}-character file"
    )
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--model", type=Path, help="an already built benchmark model folder")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="lsp-latency-"))
    try:
        model_dir = args.model or build_model(scratch / "bench-model")
        workspace = scratch / "bench-ws"
        (workspace / "shop").mkdir(parents=True)
        lsp, direct, lsp_prefilled = asyncio.run(
            run_session(model_dir, workspace, args.keystrokes, args.max_tokens)
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    lsp_ms = [t.ms for t in lsp]
    direct_ms = [t.ms for t in direct]
    ran = [i for i, t in enumerate(lsp) if not t.cached]
    runs_lsp, runs_direct = [lsp_ms[i] for i in ran], [direct_ms[i] for i in ran]
    hit_rate = 1 - len(ran) / len(lsp)
    direct_prefilled = statistics.fmean(direct[i].prefilled or 0 for i in ran)
    ratio = statistics.median(lsp_ms) / statistics.median(direct_ms)
    ratio_runs = statistics.median(runs_lsp) / statistics.median(runs_direct)

    def row(name: str, values: list[float]) -> None:
        print(f"{name:28}{statistics.median(values):12.1f}{percentile(values, 0.95):12.1f}")

    print(f"model: RANDOM WEIGHTS, shape 'bench' {SHAPES['bench']}; {args.max_tokens} new tokens")
    print(f"requests: {len(lsp)} over {args.keystrokes} keystrokes; LSP cache hits {hit_rate:.0%}")
    print("each request timed on both paths back to back, alternating which goes first")
    print(f"{'':28}{'median ms':>12}{'p95 ms':>12}")
    row("LSP over stdio, all", lsp_ms)
    row("direct models/, all", direct_ms)
    row("LSP, model runs only", runs_lsp)
    row("direct, the same requests", runs_direct)
    print(
        f"mean prefilled tokens per model run: LSP {lsp_prefilled:.1f}, "
        f"direct {direct_prefilled:.1f}"
    )
    print(f"ratio (median LSP / median direct): {ratio:.3f}; model runs only: {ratio_runs:.3f}")
    print(
        json.dumps(
            {
                "ratio": round(ratio, 3),
                "target": TARGET,
                "ratio_model_runs_only": round(ratio_runs, 3),
                "lsp_median_ms": round(statistics.median(lsp_ms), 1),
                "lsp_p95_ms": round(percentile(lsp_ms, 0.95), 1),
                "direct_median_ms": round(statistics.median(direct_ms), 1),
                "direct_p95_ms": round(percentile(direct_ms, 0.95), 1),
                "cache_hit_rate": round(hit_rate, 3),
                "mean_prefilled_tokens_lsp": round(lsp_prefilled, 1),
                "mean_prefilled_tokens_direct": round(direct_prefilled, 1),
                "requests": len(lsp),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
