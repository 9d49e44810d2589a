"""Evaluation, fine-tuning and adapters driven over LSP, each run a real child process.

The serving model is the endless smoke model (RANDOM WEIGHTS: it never stops a line, so a
completion is never empty; pass rates are ~0 and mean nothing). Tests assert the plumbing:
progress, notifications, files per model version, the hot swap to a promoted adapter,
refusing a second run, cancelling, and completions answered while a fine-tune trains.

The tests share one server (starting it and its model costs seconds) but not their results:
each waits for its own run by id, and the promoted adapter that several need comes from
``promoted_fine_tune``, run by whichever test asks first. Any order passes, each test alone too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from evolution.store import Decontaminator, RecordDraft, TrainingStore
from tests.server.conftest import (
    SERVER,
    default_data_dir,
    inline_params,
    open_document,
    plain,
    ready_session,
    wait_for,
)
from tests.server.rawlsp import RawClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

REQUEST_FAILED = -32803
RUN_TIMEOUT_S = 240  # a shared 2-core machine: generous, only a guard against hangs
# A fast run on the tiny model: 16 pairs, 2 epochs, a gate of one HumanEval task.
QUICK = {
    "minRecords": 4,
    "evalShare": 0.2,
    "batchSize": 2,
    "gradientAccumulation": 1,
    "learningRate": 0.003,
    "warmupRatio": 0.0,
    "epochs": 2.0,
    "checkpointEvery": 50,
    "evalTasks": 1,
    "evalMaxNewTokens": 32,
    "maxLength": 256,
    "dtype": "float32",
}
# Completions go in comments, where the junk model's text never breaks the syntax.
COMMENTS = ("    # add the numbers: ", "    # then return the sum: ")
SOURCE = f"def add(a, b):\n{COMMENTS[0]}\n{COMMENTS[1]}\n    return a + b\n"
CALLS = itertools.count()  # numbers the documents of ``complete``


def fill_store(data_dir: Path, count: int = 16) -> None:
    operations = (("add", "+"), ("subtract", "-"), ("multiply", "*"), ("power", "**"))
    with TrainingStore.in_data_dir(data_dir, decontaminator=Decontaminator([])) as store:
        for i in range(count):
            name, op = operations[i % len(operations)]
            code = f"def {name}_{i}(a, b):\n    return a {op} b\n"
            store.add(RecordDraft(f"Write {name}_{i}(a, b).", code, source="editor"))


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    workspace = tmp_path_factory.mktemp("ws") / "runs"
    fill_store(default_data_dir(workspace))
    lsp_client.results = {"evaluation": [], "finetune": []}  # type: ignore[attr-defined]
    lsp_client.promoted_fine_tune = None  # type: ignore[attr-defined]
    for kind in ("evaluation", "finetune"):
        method = f"evoselfcode/{kind}Result"
        lsp_client.feature(method)(
            lambda ls, params, kind=kind: lsp_client.results[kind].append(plain(params))
        )
    settings = {
        "clientUi": True,
        "model": str(endless_model_dir),
        "device": "cpu",
        "completion": {"debounceMs": 0, "maxTokens": 8},
    }
    lsp_client.model_dir = endless_model_dir  # type: ignore[attr-defined]
    lsp_client.doc_uri = (workspace / "ops.py").as_uri()  # type: ignore[attr-defined]
    async with ready_session(lsp_client, workspace, settings):
        yield


async def command(client: LanguageClient, name: str, argument: dict | None = None):
    arguments = [argument] if argument is not None else None
    return plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=arguments)
        )
    )


async def result_of(client: LanguageClient, kind: str, run_id: str) -> dict:
    """The ``evoselfcode/{kind}Result`` notification of run ``run_id``."""
    return await wait_for(
        lambda: next((r for r in client.results[kind] if r["runId"] == run_id), None),
        timeout=RUN_TIMEOUT_S,
        what=f"evoselfcode/{kind}Result of {run_id}",
    )


async def promoted_fine_tune(client: LanguageClient) -> dict:
    """A quick fine-tune that was promoted and hot-swapped in: run once, by the first test that
    needs one. Returns its result, run folder, progress bar and the statuses during the run."""
    if client.promoted_fine_tune is None:
        known, mark = set(client.progress_reports), len(client.statuses)
        started = await command(client, "evoselfcode.fineTune", {"overrides": QUICK})
        result = await result_of(client, "finetune", started["runId"])
        assert result["status"] == "finished" and result["promoted"] is True, result["reason"]
        await wait_for(
            lambda: any(s["adapter"] == result["adapterId"] for s in client.statuses[mark:]),
            what="the hot swap to the new adapter",
        )
        client.promoted_fine_tune = {
            "started": started,
            "result": result,
            "run_dir": client.data_dir / "finetune" / started["runId"],
            "bar": progress_of(client, "EvoSelfCode: fine-tuning", known),
            "statuses": client.statuses[mark:],
        }
    return client.promoted_fine_tune


def progress_of(client: LanguageClient, title: str, known: set) -> list:
    for token, values in client.progress_reports.items():
        if token not in known and values and getattr(values[0], "title", "") == title:
            return values
    return []


async def complete(client: LanguageClient, comment: int = 0) -> tuple[list, float]:
    """An inline completion at the end of comment line ``comment``; its items and latency.
    Asserts that the model ran for it: each call opens a document of its own, with a last line
    no other call has, so that no test is answered from the cache of another."""
    uri = client.doc_uri.replace(".py", f"-{next(CALLS)}.py")
    open_document(client, uri, f"{SOURCE}# {uri}\n")
    generated = (await command(client, "evoselfcode.status", {}))["completions"]["generated"]
    started = time.perf_counter()
    answer = await client.text_document_inline_completion_async(
        inline_params(uri, 1 + comment, len(COMMENTS[comment]))
    )
    latency_ms = (time.perf_counter() - started) * 1000
    assert isinstance(answer, types.InlineCompletionList)
    status = await command(client, "evoselfcode.status", {})
    assert status["completions"]["generated"] == generated + 1
    return list(answer.items), latency_ms


async def test_evaluate_relays_progress_and_keeps_the_result_per_model_version(client):
    known = set(client.progress_reports)
    started = await command(client, "evoselfcode.evaluate", {"limit": 2})
    assert started["runId"].startswith("eval-")
    with pytest.raises(JsonRpcException) as error:
        await command(client, "evoselfcode.evaluate", {"limit": 1})
    assert error.value.code == REQUEST_FAILED and "already running" in error.value.message

    serving = (await command(client, "evoselfcode.status", {}))["adapter"]
    result = await result_of(client, "evaluation", started["runId"])
    assert result["dataset"] == "humaneval" and result["tasks"] == 2
    assert 0.0 <= result["passAt1"] <= 1.0 and len(result["ci95"]) == 2
    assert sum(result["counts"].values()) == 2
    version = client.model_dir.name + (f"@{serving}" if serving else "")
    assert result["modelVersion"] == version  # the model (and adapter) that was serving
    out_dir = Path(result["outDir"])
    assert out_dir.parent.parent == client.data_dir / "eval"
    assert out_dir.parent.name == result["modelVersion"]
    assert (out_dir / "report.html").is_file()
    assert len((out_dir / "results.jsonl").read_text().splitlines()) == 2
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["pass@1"] == result["passAt1"]

    bar = progress_of(client, "EvoSelfCode: evaluating on humaneval", known)
    assert isinstance(bar[-1], types.WorkDoneProgressEnd) and "pass@1" in (bar[-1].message or "")
    reports = [v.message for v in bar if isinstance(v, types.WorkDoneProgressReport)]
    assert any("pass rate" in (m or "") for m in reports), reports
    status = await command(client, "evoselfcode.status", {})
    assert status["evaluation"] == {
        "passAt1": result["passAt1"],
        "modelVersion": result["modelVersion"],
        "dataset": "humaneval",
        "tasks": 2,
    }


async def test_a_cancelled_evaluation_stores_nothing(client):
    known = set(client.progress_reports)
    before = sorted((client.data_dir / "eval").rglob("summary.json"))
    started = await command(client, "evoselfcode.evaluate", {"limit": 30})
    token = await wait_for(
        lambda: next((t for t in client.progress_reports if t not in known), None),
        what="the evaluation's progress",
    )
    client.protocol.notify(
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token)
    )
    end = await wait_for(
        lambda: next(
            (v for v in client.progress_reports[token] if isinstance(v, types.WorkDoneProgressEnd)),
            None,
        ),
        timeout=60,
        what="the end of the evaluation",
    )
    assert end.message == "cancelled; nothing stored"
    assert all(r["runId"] != started["runId"] for r in client.results["evaluation"])
    assert sorted((client.data_dir / "eval").rglob("summary.json")) == before


async def test_completions_are_served_while_a_fine_tune_trains_and_it_can_be_cancelled(client):
    idle, idle_ms = await complete(client, 0)
    assert idle
    long_run = {**QUICK, "epochs": 100.0, "autoPromote": False}  # ~800 steps
    mark = len(client.statuses)
    started = await command(client, "evoselfcode.fineTune", {"overrides": long_run})
    try:
        await train_while_completing(client, mark, idle_ms)
    finally:  # a failure above must not leave the run going for the tests after this one
        cancelled = await command(client, "evoselfcode.cancelFineTune", {})
    assert cancelled == {"cancelled": True}
    result = await result_of(client, "finetune", started["runId"])
    assert result["status"] == "cancelled" and result["promoted"] is False
    assert "checkpoint is kept" in result["reason"]
    assert await command(client, "evoselfcode.cancelFineTune", {}) == {"cancelled": False}
    status = await command(client, "evoselfcode.status", {})
    assert status["finetune"]["state"] == "cancelled"


async def train_while_completing(client: LanguageClient, mark: int, idle_ms: float) -> None:
    await wait_for(
        lambda: any(s.get("finetune", {}).get("state") == "train" for s in client.statuses[mark:]),
        timeout=RUN_TIMEOUT_S,
        what="training to start",
    )
    during, during_ms = await complete(client, 1)
    assert during  # written by the model while the child trains
    status = await command(client, "evoselfcode.status", {})
    assert status["finetune"]["state"] == "train"  # still training when the answer came
    print(f"inline completion: {idle_ms:.0f} ms idle, {during_ms:.0f} ms while fine-tuning")

    with pytest.raises(JsonRpcException) as error:
        await command(client, "evoselfcode.fineTune", {"overrides": QUICK})
    assert error.value.code == REQUEST_FAILED and "already going" in error.value.message


async def test_a_fine_tune_is_relayed_promoted_and_hot_swapped(client):
    tuned = await promoted_fine_tune(client)
    result = tuned["result"]
    assert result["adapterId"] and Path(result["reportPath"]).is_file()
    assert tuned["run_dir"].is_dir()  # the run folder the command named
    reports = [v.message or "" for v in tuned["bar"] if isinstance(v, types.WorkDoneProgressReport)]
    assert any(m.startswith("step ") and "loss" in m for m in reports), reports
    trained = [
        s["finetune"] for s in tuned["statuses"] if s.get("finetune", {}).get("state") == "train"
    ]
    assert trained and trained[-1]["total"] > 0 and trained[-1]["loss"] is not None

    swapped = next(s for s in tuned["statuses"] if s["adapter"] == result["adapterId"])
    assert swapped["state"] == "ready" and swapped["finetune"]["state"] == "finished"
    await complete(client, 1)  # the tuned model runs (its junk may now end at once: no items)


async def test_adapters_roll_back_and_promote_with_a_hot_swap(client):
    adapter = (await promoted_fine_tune(client))["result"]
    listed = await command(client, "evoselfcode.adapters", {"action": "list"})
    assert listed["promoted"] == adapter["adapterId"]
    [entry] = listed["adapters"]
    assert (
        entry["id"] == adapter["adapterId"] and entry["promoted"] and entry["status"] == "promoted"
    )

    mark = len(client.statuses)
    after = await command(client, "evoselfcode.adapters", {"action": "rollback"})
    assert after["promoted"] is None
    await wait_for(lambda: any(s["adapter"] is None for s in client.statuses[mark:]), what="base")
    mark = len(client.statuses)
    after = await command(
        client, "evoselfcode.adapters", {"action": "promote", "id": adapter["adapterId"]}
    )
    assert after["promoted"] == adapter["adapterId"]
    await wait_for(
        lambda: any(s["adapter"] == adapter["adapterId"] for s in client.statuses[mark:]),
        what="the adapter again",
    )
    with pytest.raises(JsonRpcException) as error:
        await command(client, "evoselfcode.adapters", {"action": "promote", "id": "ft-nope"})
    assert error.value.code == REQUEST_FAILED and "ft-nope" in error.value.message


async def test_a_bad_override_is_refused_before_anything_starts(client):
    with pytest.raises(JsonRpcException) as error:
        await command(client, "evoselfcode.fineTune", {"overrides": {"loraRank": 0}})
    assert error.value.code == REQUEST_FAILED and "lora_rank" in error.value.message
    with pytest.raises(JsonRpcException) as error:
        await command(client, "evoselfcode.fineTune", {"overrides": {"nope": 1}})
    assert "unknown fine-tuning setting 'nope'" in error.value.message
    missing = str(client.workspace_dir / "no-such-folder")
    with pytest.raises(JsonRpcException) as error:
        await command(client, "evoselfcode.fineTune", {"overrides": {"workspace": missing}})
    assert "must be a folder" in error.value.message and missing in error.value.message


async def test_training_data_counts_the_pairs(client):
    data = await command(client, "evoselfcode.trainingData", {})
    assert data["records"] == 16 and data["trainable"] == 16
    assert Path(data["path"]) == client.data_dir / "training" / "pairs.jsonl"


async def test_the_last_evaluation_is_in_the_status_after_a_restart(client):
    from server.runs.evaluation import last_evaluation, status_of

    await promoted_fine_tune(client)  # its promotion gate evaluated the candidate
    newest = last_evaluation(client.data_dir)
    assert newest is not None
    assert (await command(client, "evoselfcode.status", {}))["evaluation"] == status_of(newest)
    raw = await RawClient.start()
    try:
        await raw.initialize({"dataDir": str(client.data_dir), "model": str(client.model_dir)})

        async def evaluation() -> dict:
            while True:
                answer = await raw.request(
                    "workspace/executeCommand", {"command": "evoselfcode.status", "arguments": []}
                )
                if "evaluation" in answer["result"]:
                    return answer["result"]["evaluation"]
                await asyncio.sleep(0.1)

        shown = await asyncio.wait_for(evaluation(), 60)
    finally:
        await raw.close()
    assert shown == status_of(newest)
