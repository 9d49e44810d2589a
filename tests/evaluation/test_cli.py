"""``evoselfcode eval`` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evaluation.datasets import load_tasks

REPO = Path(__file__).resolve().parents[2]


def _eval(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "eval", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )


def _samples_file(path: Path) -> Path:
    tasks = load_tasks("humaneval", limit=4)
    rows = [{"task_id": t.task_id, "completion": t.canonical_solution} for t in tasks[:3]]
    rows.append({"task_id": tasks[3].task_id, "completion": "    while True:\n        pass\n"})
    path.write_bytes(
        b"".join(json.dumps(r).encode() + b"\n" for r in rows)
        + b'{"task_id": "HumanEval/999", "completion": ""}\n'
        + b"\x89PNG\r\n\x1a\n\x00\x00 binary junk\n"
    )
    return path


def test_samples_file_with_bad_lines(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = _eval(
        "--samples",
        str(_samples_file(tmp_path / "s.jsonl")),
        "--limit",
        "4",
        "--timeout",
        "1",
        "--out",
        str(out),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["passAt1"] == 0.75 and result["tasks"] == 4
    assert result["counts"]["timeout"] == 1
    # The PNG signature holds two newlines: its junk spans lines 6 to 8.
    assert [p.split(":")[0] for p in result["problems"]] == [f"line {n}" for n in (5, 6, 7, 8)]
    assert result["problems"][:2] == [
        "line 5: unknown task id 'HumanEval/999'",
        "line 6: not UTF-8 text (byte 0)",
    ]
    assert "pass@1 75.0%" in done.stderr and "problem: line 5" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.jsonl", "summary.json"]
    assert len((out / "results.jsonl").read_text().splitlines()) == 4


def test_json_progress_ends_with_the_result(tmp_path: Path) -> None:
    done = _eval(
        "--samples",
        str(_samples_file(tmp_path / "s.jsonl")),
        "--limit",
        "4",
        "--timeout",
        "1",
        "--progress",
        "json",
        "--data-dir",
        str(tmp_path / "data"),
        "--model-version",
        "mine",
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    progress = [e for e in events if e["event"] == "progress"]
    assert [e["done"] for e in progress] == [1, 2, 3, 4]
    assert {e["total"] for e in progress} == {4}
    assert all(0.0 <= e["pass_rate"] <= 1.0 and e["outcome"] for e in progress)
    assert events[-1]["event"] == "result" and events[-1]["modelVersion"] == "mine"
    stored = Path(events[-1]["outDir"])
    assert (
        stored.parent == tmp_path / "data" / "eval" / "mine" and (stored / "summary.json").exists()
    )


def test_bad_input_exits_with_a_clear_message(tmp_path: Path) -> None:
    unknown = _eval("--samples", str(tmp_path / "s.jsonl"), "--dataset", "no-such-benchmark")
    assert unknown.returncode == 2 and "unknown dataset 'no-such-benchmark'" in unknown.stderr
    missing = _eval("--samples", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 2 and "cannot read samples file" in missing.stderr
    neither = _eval("--dataset", "humaneval")
    assert neither.returncode == 2 and "--model" in neither.stderr
    as_json = _eval("--samples", str(tmp_path / "x.jsonl"), "--progress", "json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout.splitlines()[-1])["event"] == "error"


def test_model_on_the_smoke_model(tmp_path: Path, smoke_model_dir: Path) -> None:
    """RANDOM WEIGHTS: the completions are junk; this checks the command's plumbing."""
    done = _eval(
        "--model",
        str(smoke_model_dir),
        "--limit",
        "2",
        "--max-new-tokens",
        "16",
        "--device",
        "cpu",
        "--data-dir",
        str(tmp_path),
        "--workers",
        "1",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tasks"] == 2 and sum(result["counts"].values()) == 2
    assert "random-weight smoke model" in done.stderr
    summary = json.loads((Path(result["outDir"]) / "summary.json").read_text())
    assert summary["source"]["random_weights"] is True and summary["source"]["backend"] == "local"
