"""The loop's steps, each as a user would run it: over LSP or through the CLI."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from server.demo.client import EVALUATION_RESULT, FINETUNE_RESULT, DemoEditor
from server.demo.workspace import COMPLETION_CURSOR_LINE

# A fine-tune that finishes in seconds on the tiny model: a few epochs, a small gate.
QUICK_FINETUNE = {
    "minRecords": 4,
    "evalShare": 0.25,
    "batchSize": 2,
    "gradientAccumulation": 1,
    "learningRate": 0.003,
    "warmupRatio": 0.0,
    "epochs": 3.0,
    "maxLength": 384,
    "evalMaxNewTokens": 48,
    "dtype": "float32",
}
RUN_TIMEOUT_S = 900


@dataclass
class StepResult:
    name: str
    ok: bool
    summary: str
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``evoselfcode ARGS`` in a child process, as a user would type it."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def last_json(stdout: str) -> dict[str, Any]:
    """The last JSON object a command printed (``--progress json`` ends with its result)."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return {}


async def inline_completion(editor: DemoEditor, uri: str, text: str) -> StepResult:
    from lsprotocol import types

    lines = text.split("\n")
    line = len(lines) - 2  # the cursor line, then the final newline's empty string
    assert lines[line] == COMPLETION_CURSOR_LINE
    started = time.perf_counter()
    answer = await editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=len(lines[line])),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    seconds = time.perf_counter() - started
    items = list(getattr(answer, "items", None) or [])
    status = await editor.command("evoselfcode.status")
    empty = status["completions"]["empty"]
    if items:
        ghost = str(items[0].insert_text)
        cursor = sum(len(x) + 1 for x in lines[:line]) + len(lines[line])
        parses = "parses" if _parses(text[:cursor] + ghost + text[cursor:]) else "does NOT parse"
        summary = f"ghost text {ghost[:60]!r} in {seconds * 1000:.0f} ms; the file {parses} with it"
    else:
        summary = f"no suggestion (reasons so far: {empty}) in {seconds * 1000:.0f} ms"
    return StepResult(
        "inline completion over LSP",
        True,
        summary,
        seconds,
        {"items": len(items), "latencyMs": status["latencyMs"], "empty": empty},
    )


async def self_evolve(editor: DemoEditor, uri: str, path: Path, text: str) -> StepResult:
    from lsprotocol import types

    started = time.perf_counter()
    line = text.splitlines().index("def mean(values):") + 2
    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line, 4), end=types.Position(line, 4)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    titles = [action.title for action in actions or []]
    evolve = next((a for a in actions or [] if a.title == "Self-evolve this function"), None)
    if evolve is None or not isinstance(evolve, types.CodeAction) or evolve.command is None:
        return StepResult("self-evolve", False, f"action not offered; got {titles}")
    command = evolve.command
    result = await editor.command(command.command, (command.arguments or [None])[0])
    gates = ", ".join(f"{g['name']} {'ok' if g['passed'] else 'FAILED'}" for g in result["gates"])
    if not result["ok"]:
        return StepResult("self-evolve", False, f"rejected by {result['rejectedBy']}: {gates}")
    accepted = await editor.command("evoselfcode.acceptEvolution", {"id": result["id"]})
    # clientUi: the editor applies the edit itself once the server has recorded the pair.
    new_text = replace_range(text, result["range"], result["proposed"])
    path.write_text(new_text, encoding="utf-8")
    editor.replace_text(uri, new_text, version=2)
    recorded = "recorded" if accepted.get("recorded") else "NOT recorded"
    return StepResult(
        "self-evolve this function",
        bool(accepted.get("recorded")),
        f"gates: {gates}; verifier {result['verdict']} (confidence "
        f"{result.get('confidence') or 0:.2f}); accepted, pair {recorded}",
        time.perf_counter() - started,
        {"instruction": result["instruction"], "proposed": result["proposed"]},
    )


def replace_range(text: str, lsp_range: dict[str, Any], new_text: str) -> str:
    """``text`` with an LSP range replaced (the demo file is ASCII: UTF-16 = characters)."""
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)

    def offset(position: dict[str, int]) -> int:
        return min(starts[position["line"]] + position["character"], len(text))

    return text[: offset(lsp_range["start"])] + new_text + text[offset(lsp_range["end"]) :]


def batch_evolve(instructions: Path, data_dir: Path, base_url: str, cwd: Path) -> StepResult:
    started = time.perf_counter()
    proc = run_cli(
        [
            "evolve",
            "--instructions",
            str(instructions),
            "--data-dir",
            str(data_dir),
            "--generator-url",
            base_url,
            "--verifier-url",
            base_url,
            "--concurrency",
            "4",
            "--progress",
            "json",
        ],
        cwd,
    )
    result = last_json(proc.stdout)
    summary = {k: v for k, v in result.items() if k not in ("event",)}
    return StepResult(
        "batch self-evolve (evoselfcode evolve)",
        proc.returncode == 0,
        json.dumps(summary)[:300] if summary else proc.stderr.strip()[-300:],
        time.perf_counter() - started,
        summary,
    )


def datagen(config: Path, data_dir: Path, cwd: Path) -> StepResult:
    started = time.perf_counter()
    generate = run_cli(["datagen", "--config", str(config), "--progress", "json"], cwd)
    imported = run_cli(
        [
            "datagen",
            "--config",
            str(config),
            "--stage",
            "import",
            "--data-dir",
            str(data_dir),
            "--progress",
            "json",
        ],
        cwd,
    )
    gen, imp = last_json(generate.stdout), last_json(imported.stdout)
    ok = generate.returncode == 0 and imported.returncode == 0
    summary = (
        f"names and bodies generated; import: {json.dumps(imp)[:200]}"
        if ok
        else (generate.stderr + imported.stderr).strip()[-300:]
    )
    return StepResult(
        "data generation (seed 002) + import",
        ok,
        summary,
        time.perf_counter() - started,
        {"generate": gen, "import": imp},
    )


async def fine_tune(editor: DemoEditor) -> StepResult:
    started = time.perf_counter()
    before = len(editor.results[FINETUNE_RESULT])
    run = await editor.command("evoselfcode.fineTune", {"overrides": QUICK_FINETUNE})
    result = await editor.next_result(FINETUNE_RESULT, before, RUN_TIMEOUT_S)
    report_text = ""
    report_path = result.get("reportPath")
    if report_path and Path(report_path).with_name("report.txt").is_file():
        report_text = Path(report_path).with_name("report.txt").read_text(encoding="utf-8")
    verdict = "PROMOTED" if result.get("promoted") else "NOT promoted"
    return StepResult(
        "fine-tune (LoRA) + gated promotion",
        result.get("status") == "finished",
        f"run {run['runId']}: adapter {result.get('adapterId')} {verdict}: {result.get('reason')}",
        time.perf_counter() - started,
        {**result, "reportText": report_text},
    )


async def evaluate(editor: DemoEditor, tasks: int) -> StepResult:
    started = time.perf_counter()
    before = len(editor.results[EVALUATION_RESULT])
    await editor.command("evoselfcode.evaluate", {"limit": tasks})
    result = await editor.next_result(EVALUATION_RESULT, before, RUN_TIMEOUT_S)
    status = await editor.command("evoselfcode.status")
    return StepResult(
        "evaluate the serving model on HumanEval",
        True,
        f"{result['modelVersion']}: pass@1 {result['passAt1']:.2f} on {result['tasks']} tasks "
        f"(counts {result['counts']}); status bar shows "
        f"{(status.get('evaluation') or {}).get('passAt1')}",
        time.perf_counter() - started,
        result,
    )


def efficacy(work: Path, model_dir: Path, train_tasks: int) -> StepResult:
    """A short run of the self-evolution measurement (``bench/efficacy_loop.py`` at full size).

    The stand-in generator answers ``train_tasks`` instructions of the task family, with its
    default fault rates; three stores (no gates, syntax gate, all gates) are fine-tuned on and
    scored on a third as many held-out tasks, from the same replies.
    """
    from evolution.efficacy import DEMO, Loop, run_loop, summary_sentence
    from evolution.testserver.standin import FaultRates

    started = time.perf_counter()
    sizes = replace(DEMO, train_tasks=train_tasks, heldout_tasks=max(8, train_tasks // 3))
    work.mkdir(parents=True, exist_ok=True)
    outcome = run_loop(Loop(work, str(model_dir), sizes, say=lambda _: None), FaultRates(), 0)
    return StepResult(
        "self-evolution measured: pass@1 before and after, gated vs ungated",
        True,
        f"{summary_sentence(outcome)}. A short run ({train_tasks} training instructions, "
        f"{len(outcome.scores['base'].passed)} held-out tasks): `python bench/efficacy_loop.py` "
        "measures it on every task with intervals.",
        time.perf_counter() - started,
        {"pass_at_1": {name: s.rate for name, s in outcome.scores.items()}},
    )


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True
