"""``evoselfcode demo``: the whole loop on the shipped model and the scripted test server.

1. find the model the repository ships (``models/evoselfcode-small``, a small model trained
   here: no training wait) and start the scripted OpenAI-compatible server, which stands in
   for the generator (32B) and the verifier (14B);
2. start the language server over stdio and get an inline completion;
3. self-evolve a function through the code action and accept it (the pair lands in the store);
4. batch self-evolve with ``evoselfcode evolve`` and a small datagen pass, imported;
5. fine-tune over LSP; the gate compares base and candidate and promotes or refuses;
6. evaluate the serving model over LSP;
7. a short run of the self-evolution measurement (``evolution.efficacy``): held-out pass@1
   of the base model and of adapters trained on ungated, syntax-gated and fully gated pairs;
   print a summary and write ``report.html``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from pathlib import Path

import yaml

from server.demo import steps
from server.demo.client import DemoEditor
from server.demo.report import write_report
from server.demo.workspace import (
    write_datagen_config,
    write_instructions,
    write_project,
)

MODEL_LOAD_TIMEOUT_S = 300
STAND_IN_NOTE = (
    "The scripted test server stands in for Qwen2.5-Coder-32B-Instruct (generator) and "
    "-14B-Instruct (verifier)."
)


def say(message: str) -> None:
    print(message, flush=True)


def demo_script() -> dict:
    """The test server's script: the demo's rules, then datagen's model-like answers."""
    here = Path(__file__).resolve().parent
    script = yaml.safe_load((here / "script.yaml").read_text(encoding="utf-8"))
    datagen = here.parents[1] / "evolution" / "datagen" / "testserver-demo.yaml"
    script["rules"] += yaml.safe_load(datagen.read_text(encoding="utf-8"))["rules"]
    return script


def shipped_model() -> tuple[Path, str]:
    """The repository's small trained model and a sentence that says plainly what it is."""
    from evolution.pretrain.card import MARKER
    from models.paths import DEFAULT_MODEL, default_models_dir

    folder = default_models_dir() / DEFAULT_MODEL
    try:
        facts = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(
            f"the shipped model is missing from {folder} ({exc}); restore it with "
            f"`git checkout -- {folder}` or make one with `evoselfcode pretrain {folder}`"
        ) from exc
    note = (
        f"The completion model is {DEFAULT_MODEL}: a {facts['parameters'] / 1e6:.1f}M-parameter "
        f"model trained from scratch on this machine's Python source ({facts['tokens_seen']:,} "
        "tokens). It writes plausible-looking Python, often wrong: it shows the loop working, "
        "nowhere near what Qwen2.5-Coder does, and its HumanEval pass rates are about 0. "
    )
    return folder, note + STAND_IN_NOTE


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


async def run_demo(
    out: Path, tasks: int, model_dir: Path, efficacy_tasks: int
) -> list[steps.StepResult]:
    from evolution.testserver import ScriptedServer

    out.mkdir(parents=True, exist_ok=True)
    data_dir, workspace, generated = (
        fresh(out / "data"),
        fresh(out / "workspace"),
        fresh(out / "datagen"),
    )
    stats_py = write_project(workspace)
    instructions = write_instructions(out / "instructions.jsonl")
    results: list[steps.StepResult] = []
    with ScriptedServer(demo_script()) as llm:
        say(f"scripted generator/verifier server at {llm.base_url}")
        datagen_config = write_datagen_config(out / "datagen.yaml", llm.base_url, generated)
        settings = {
            "clientUi": True,
            "model": str(model_dir),
            "device": "cpu",
            "dataDir": str(data_dir),
            "generator": {"baseUrl": llm.base_url},
            "verifier": {"baseUrl": llm.base_url},
            "completion": {"debounceMs": 0, "maxTokens": 32, "temperature": 0.0},
            "finetune": {"evalTasks": tasks},
            "evaluation": {"limit": tasks},
        }
        editor = DemoEditor(settings, say)
        await editor.start(workspace)
        try:
            status = await editor.wait_for_model(MODEL_LOAD_TIMEOUT_S)
            say(f"language server ready: {status['model']} on {status['device']}")
            uri, text = stats_py.as_uri(), stats_py.read_text(encoding="utf-8")
            editor.open(uri, text)
            for step in _steps(editor, uri, stats_py, text, instructions, datagen_config, data_dir):
                result = await step
                results.append(result)
                mark = "ok " if result.ok else "FAILED"
                say(f"[{mark}] {result.name} ({result.seconds:.1f} s): {result.summary}")
            store = await editor.command("evoselfcode.trainingData")
            results.append(
                steps.StepResult("training-data store", True, _store_summary(store), 0.0, store)
            )
        finally:
            await editor.stop()
    if efficacy_tasks:
        result = steps.efficacy(fresh(out / "efficacy"), model_dir, efficacy_tasks)
        say(f"[ok ] {result.name} ({result.seconds:.1f} s): {result.summary}")
        results.append(result)
    return results


def _steps(editor, uri, stats_py, text, instructions, datagen_config, data_dir):
    """The steps in order, as awaitables (CLI steps run in a thread to keep LSP flowing)."""
    cwd = stats_py.parent
    base_url = editor.settings["generator"]["baseUrl"]
    tasks = editor.settings["evaluation"]["limit"]
    yield steps.inline_completion(editor, uri, text)
    yield steps.self_evolve(editor, uri, stats_py, text)
    yield asyncio.to_thread(steps.batch_evolve, instructions, data_dir, base_url, cwd)
    yield asyncio.to_thread(steps.datagen, datagen_config, data_dir, cwd)
    yield steps.fine_tune(editor)
    yield steps.evaluate(editor, tasks)


def _store_summary(store: dict) -> str:
    stats = store.get("stats", store)
    return (
        f"{stats.get('records')} records by source {stats.get('by_source')}; "
        f"{stats.get('flagged')} flagged by decontamination (kept, not trained on); "
        f"{stats.get('trainable')} trainable; file {stats.get('path')}"
    )


def main(out: Path, tasks: int, efficacy_tasks: int) -> int:
    started = time.perf_counter()
    try:
        model_dir, note = shipped_model()
        say(note)
        results = asyncio.run(run_demo(out, tasks, model_dir, efficacy_tasks))
    except Exception as exc:  # the demo must end with a readable message, not a traceback
        say(f"demo stopped: {type(exc).__name__}: {exc}")
        return 1
    report = write_report(out / "report.html", results, note)
    finetune = next((r for r in results if r.name.startswith("fine-tune")), None)
    if finetune and finetune.details.get("reportText"):
        say("\nthe promotion gate's report (base vs candidate):")
        say("  " + finetune.details["reportText"].strip().replace("\n", "\n  "))
    failed = [r.name for r in results if not r.ok]
    say(
        f"\n{len(results) - len(failed)}/{len(results)} steps ok in "
        f"{time.perf_counter() - started:.0f} s; report: {report}"
    )
    if failed:
        say(f"failed: {', '.join(failed)}")
    print(file=sys.stderr)
    return 1 if failed else 0
