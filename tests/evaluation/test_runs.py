"""Stored runs: the three files, the HTML report, listing runs per model version."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from evaluation.api import EvalRequest, list_evaluations, run_evaluation
from evaluation.datasets import load_tasks
from evaluation.runner import EvalReport, evaluate_samples
from evaluation.runs import list_runs, model_version, run_dir, save_run
from evaluation.samples import Sample
from evaluation.sandbox import Isolation, Sandbox

HOSTILE = "    return True  # </pre></code><script>alert('x')</script>\n"


def _report(sandbox: Sandbox, completions: list[str]) -> EvalReport:
    tasks = load_tasks("humaneval", limit=len(completions))
    samples = [
        Sample(t.task_id, c, i) for i, (t, c) in enumerate(zip(tasks, completions, strict=True))
    ]
    return evaluate_samples(tasks, samples, sandbox=sandbox, source={"kind": "samples"})


def test_save_run_writes_results_summary_and_report(sandbox: Sandbox, tmp_path: Path) -> None:
    tasks = load_tasks("humaneval", limit=2)
    report = _report(sandbox, [tasks[0].canonical_solution or "", HOSTILE])
    out = run_dir(tmp_path, "my-model", "run-1")
    record = save_run(report, out, version="my-model", run_id="run-1")
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["passed"], r["result"]) for r in lines] == [
        ("HumanEval/0", True, "passed"),
        ("HumanEval/1", False, "failed"),
    ]
    assert lines[1]["completion"] == HOSTILE and "AssertionError" in lines[1]["detail"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass@1"] == 0.5 and summary["counts"]["failed"] == 1
    assert summary["model_version"] == "my-model" and summary["dataset"] == "humaneval"
    assert summary["settings"]["timeout_s"] == 5.0 and "namespace" in summary["isolation"]
    assert record.brief() == {
        "modelVersion": "my-model",
        "dataset": "humaneval",
        "tasks": 2,
        "passAt1": 0.5,
        "ci95": summary["pass@1_ci95"],
        "counts": summary["counts"],
        "outDir": str(out),
    }
    page = (out / "report.html").read_text()
    assert page.count("<svg") == 2  # pass rate and outcomes; no earlier run to compare with
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "https://" not in page and "<link" not in page  # nothing fetched


def test_a_run_below_full_isolation_says_so_loudly(sandbox: Sandbox, tmp_path: Path) -> None:
    from dataclasses import replace

    full = _report(sandbox, [HOSTILE])
    assert (full.isolation_level, full.isolation_warning) == (sandbox.isolation.level, None)
    weak = Isolation(False, False, False, None, seccomp=True, problems=("userns: disabled",))
    warning = weak.warning()
    assert warning is not None
    report = replace(full, isolation=weak.describe(), isolation_level=weak.level)
    report = replace(report, isolation_warning=warning)
    out = run_dir(tmp_path, "weak", "run-1")
    save_run(report, out, version="weak", run_id="run-1")
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["isolation_level"], summary["isolation_warning"]) == ("partial", warning)
    page = (out / "report.html").read_text()
    assert page.index('class="danger"') < page.index("pass@1")  # first thing on the page
    assert "userns: disabled" in page


def test_report_compares_with_earlier_runs_of_the_same_dataset(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    canonical = [t.canonical_solution or "" for t in load_tasks("humaneval", limit=2)]
    for i, completions in enumerate([["    return 0\n"] * 2, [canonical[0], "    pass\n"]]):
        save_run(
            _report(sandbox, completions),
            run_dir(tmp_path, f"v{i}", "r"),
            version=f"v{i}",
            run_id=f"r{i}",
            compare_with=list_runs(tmp_path),
        )
    runs = list_runs(tmp_path)
    assert [r.model_version for r in runs] == ["v0", "v1"]
    assert [r.pass_at_1 for r in runs] == [0.0, 0.5]
    page = (runs[1].out_dir / "report.html").read_text()
    assert page.count("<svg") == 3 and page.count("<circle") == 2
    assert list_runs(tmp_path, version="v1")[0].run_id == "r1"
    assert list_runs(tmp_path, dataset="mbpp") == []


def test_unreadable_summaries_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "eval" / "v" / "r"
    broken.mkdir(parents=True)
    (broken / "summary.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert list_runs(tmp_path) == []
    assert "unreadable evaluation summary" in caplog.text
    assert list_runs(tmp_path / "nothing-here") == []


def test_model_version_names() -> None:
    assert model_version({"kind": "model", "name": "Qwen2.5-Coder-1.5B"}) == "Qwen2.5-Coder-1.5B"
    assert model_version({"kind": "model", "name": "m", "adapter": "lora 3/x"}) == "m@lora-3-x"
    samples = {"kind": "samples", "path": "/x/samples.jsonl", "sha256": "abcdef0123456789"}
    assert model_version(samples) == "samples-abcdef01"
    assert model_version({"kind": "samples", "path": "/x/gpt.jsonl", "sha256": "12345678ff"}) == (
        "samples-gpt-12345678"
    )


def test_run_evaluation_keeps_runs_per_version(tmp_path: Path) -> None:
    samples = tmp_path / "greedy.jsonl"
    tasks = load_tasks("humaneval", limit=3)
    samples.write_text(
        "".join(
            json.dumps({"task_id": t.task_id, "completion": t.canonical_solution}) + "\n"
            for t in tasks
        )
        + "junk line\n"
    )
    request = EvalRequest(
        limit=2, samples=samples, data_dir=tmp_path, version="greedy-v1", workers=1
    )
    done = run_evaluation(request)
    assert done.record.out_dir.parent == tmp_path / "eval" / "greedy-v1"
    assert done.record.pass_at_1 == 1.0 and done.record.summary["tasks"] == 2
    # The third task is beyond the limit: skipped, not an unknown task.
    assert done.report.problems == [
        "line 4: not JSON (Expecting value: line 1 column 1 (char 0))",
        "1 sample(s) skipped: their tasks are not among the 2 evaluated",
    ]
    stored = list_evaluations(tmp_path, version="greedy-v1")
    assert [r.run_id for r in stored] == [done.record.run_id]


def _summary(data_dir: Path, run_id: str, created_at: str) -> None:
    folder = run_dir(data_dir, "m", run_id)
    folder.mkdir(parents=True)
    summary = {"run_id": run_id, "model_version": "m", "dataset": "humaneval"}
    (folder / "summary.json").write_text(json.dumps({**summary, "created_at": created_at}))


def test_runs_stored_back_to_back_keep_their_order(sandbox: Sandbox, tmp_path: Path) -> None:
    # Within the same second (the fine-tuning gate's base and candidate): ids must not decide.
    report = _report(sandbox, ["    return 0\n"])
    for run_id in ("zz-first", "aa-second"):
        save_run(report, run_dir(tmp_path, "v", run_id), version="v", run_id=run_id)
    runs = list_runs(tmp_path)
    assert [r.run_id for r in runs] == ["zz-first", "aa-second"]
    assert runs[0].created < runs[1].created


def test_runs_are_ordered_by_creation_time_to_the_microsecond(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _summary(tmp_path, "a-late", "2026-11-21T08:00:00.900000+00:00")
    _summary(tmp_path, "z-early", "2026-11-21T08:00:00.100000+00:00")
    _summary(tmp_path, "no-zone", "2026-11-21T08:00:00.500000")  # read as UTC
    _summary(tmp_path, "seconds", "2026-11-21T08:00:00+00:00")  # stored before microseconds
    _summary(tmp_path, "no-time", "yesterday")
    with caplog.at_level(logging.WARNING):
        runs = list_runs(tmp_path)
    assert [r.run_id for r in runs] == ["seconds", "z-early", "no-zone", "a-late"]
    assert "unreadable evaluation summary" in caplog.text and "no-time" in caplog.text
