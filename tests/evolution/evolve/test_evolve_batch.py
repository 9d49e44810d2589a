"""``evoselfcode evolve``: the instructions file, concurrency, resume, summary, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from evolve_helpers import generator_rule, reply, verifier_rule

from evolution.evolve.batch import read_instructions
from evolution.evolve.errors import InstructionsError
from evolution.store import TrainingStore
from server.cli import main

REPO_ROOT = Path(__file__).resolve().parents[3]


def script(count: int, *, bad: int | None = None) -> dict:
    """Generator rules answering 'variant i' with a distinct function; item ``bad`` fails."""
    rules = []
    for i in range(count):
        tests = f"assert scale_{i}([1, 2]) == [{i + 1}, {2 * (i + 1)}]\n"
        if i == bad:
            tests = f"assert scale_{i}([1]) == [0]\n"
        code = f"def scale_{i}(values, factor={i + 1}):\n    return [v * factor for v in values]\n"
        rules.append(generator_rule(reply(code, tests), prompt=rf"variant {i}\b"))
    return {"rules": [*rules, verifier_rule()]}


def write_instructions(path: Path, count: int) -> Path:
    lines = [
        json.dumps(
            {"id": f"t{i}", "instruction": f"Scale every value (variant {i}).", "path": "s.py"}
        )
        for i in range(count)
    ]
    path.write_text("# scaling tasks\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(instructions: Path, data_dir: Path, base_url: str, *extra: str) -> int:
    arguments = ["--instructions", str(instructions), "--data-dir", str(data_dir)]
    arguments += ["--generator-url", base_url, "--max-retries", "0", "--progress", "json"]
    return main(["evolve", *arguments, *extra])


def json_events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_batch_records_what_passes_and_resumes_past_it(test_server, tmp_path, capsys):
    test_server.set_script(script(5, bad=3))
    instructions = write_instructions(tmp_path / "tasks.jsonl", 5)
    data = tmp_path / "data"
    assert run_cli(instructions, data, test_server.base_url, "--concurrency", "3") == 0
    events = json_events(capsys.readouterr().out)
    progress = [e for e in events if e["event"] == "progress"]
    assert sorted(e["id"] for e in progress) == [f"t{i}" for i in range(5)]
    assert {e["status"] for e in progress} == {"accepted", "rejected"}
    result = events[-1]
    assert result["event"] == "result"
    assert result["processed"] == 5 and result["recorded"] == 4 and result["skipped"] == 0
    assert result["passedPerGate"] == {"reply": 5, "syntax": 5, "execution": 4, "verifier": 4}
    assert result["rejectedBy"] == {"execution": 1} and result["errors"] == {}

    with TrainingStore.in_data_dir(data) as store:
        records = list(store.records())
    assert len(records) == 4 and {r.source for r in records} == {"batch"}
    item_ids = {(r.provenance.task_id or "").split(":")[-1] for r in records}
    assert item_ids == {"t0", "t1", "t2", "t4"}
    assert all(r.context.path == "s.py" for r in records)

    requests_before = len(test_server.requests)
    assert run_cli(instructions, data, test_server.base_url) == 0
    again = json_events(capsys.readouterr().out)[-1]
    assert again["skipped"] == 5 and again["processed"] == 0
    assert len(test_server.requests) == requests_before  # nothing was asked again


def test_errors_are_retried_on_the_next_run_and_a_streak_stops_the_batch(
    test_server, tmp_path, capsys
):
    test_server.set_script(script(4))
    instructions = write_instructions(tmp_path / "tasks.jsonl", 4)
    data = tmp_path / "data"
    dead = "http://127.0.0.1:9/v1"
    extra = ["--verifier-url", dead, "--concurrency", "1", "--max-consecutive-errors", "2"]
    status = run_cli(instructions, data, test_server.base_url, *extra)
    assert status == 1
    result = json_events(capsys.readouterr().out)[-1]
    assert result["errors"] == {"EndpointUnreachable": 2} and result["processed"] == 2
    assert result["stoppedEarly"] == "stopped after 2 errors in a row"
    assert result["lastError"].startswith(f"verifier unreachable at {dead}")

    assert run_cli(instructions, data, test_server.base_url) == 0
    result = json_events(capsys.readouterr().out)[-1]
    assert result["processed"] == 4 and result["recorded"] == 4 and result["skipped"] == 0


def test_errors_below_the_streak_limit_still_leave_the_run_unfinished(tmp_path, capsys):
    instructions = write_instructions(tmp_path / "tasks.jsonl", 2)
    dead = "http://127.0.0.1:9/v1"
    assert run_cli(instructions, tmp_path / "data", dead) == 1
    result = json_events(capsys.readouterr().out)[-1]
    assert result["stoppedEarly"] is None and sum(result["errors"].values()) == 2


def test_a_refused_key_stops_at_once(tmp_path, capsys, monkeypatch):
    from evolution.testserver import ScriptedServer

    monkeypatch.setenv("EVOSELFCODE_GENERATOR_API_KEY", "sk-wrong-7f3a")
    with ScriptedServer(script(3), api_key="right") as server:
        instructions = write_instructions(tmp_path / "tasks.jsonl", 3)
        assert run_cli(instructions, tmp_path, server.base_url, "--concurrency", "1") == 1
        assert len(server.requests) == 1
    result = json_events(capsys.readouterr().out)[-1]
    assert result["stoppedEarly"] == "stopped: the API key was refused"
    assert "EVOSELFCODE_GENERATOR_API_KEY" in result["lastError"]
    assert "sk-wrong-7f3a" not in json.dumps(result)


def test_below_full_isolation_the_batch_runs_nothing_unless_allowed(tmp_path, capsys, monkeypatch):
    import evaluation.sandbox
    from evaluation.sandbox import Isolation

    weak = Isolation(False, False, False, None, seccomp=True, problems=("userns: disabled",))

    class WeakSandbox:  # the kernel refused its namespaces; it is never asked to run anything
        isolation = weak

        def __init__(self, workers: int) -> None:
            pass

        def close(self) -> None:
            pass

        def __enter__(self) -> WeakSandbox:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    monkeypatch.setattr(evaluation.sandbox, "Sandbox", WeakSandbox)
    instructions = write_instructions(tmp_path / "tasks.jsonl", 2)
    dead = "http://127.0.0.1:9/v1"
    assert run_cli(instructions, tmp_path / "data", dead) == 2
    [event] = json_events(capsys.readouterr().out)
    assert event["event"] == "error" and "userns: disabled" in event["message"]
    assert "--allow-guard-only" in event["message"]
    assert run_cli(instructions, tmp_path / "data", dead, "--allow-guard-only") == 1  # it ran


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "instruction": "x"}\nnot json\n', "tasks.jsonl:2: not JSON"),
        (
            '{"id": "a", "instruction": "x"}\n{"id": "a", "instruction": "y"}\n',
            "already used on line 1",
        ),
        ('{"instruction": "x"}\n', "id must be a string or a number"),
        ('{"id": 1}\n', "give an instruction, code, or both"),
        ('{"id": 1, "instruction": "x", "lang": "go"}\n', "unknown key 'lang'"),
        ("[1, 2]\n", "expected an object"),
    ],
)
def test_bad_instruction_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "tasks.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InstructionsError, match=message):
        read_instructions(path)


def test_a_bad_file_is_reported_by_the_command_and_runs_nothing(tmp_path, capsys):
    path = tmp_path / "tasks.jsonl"
    path.write_text("{oops\n", encoding="utf-8")
    assert run_cli(path, tmp_path / "data", "http://127.0.0.1:9/v1") == 2
    [event] = json_events(capsys.readouterr().out)
    assert event["event"] == "error" and "tasks.jsonl:1: not JSON" in event["message"]


def test_items_with_code_improve_that_function(test_server, tmp_path, capsys):
    code = "import math\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n"
    item = {"id": "m", "code": code, "function": "mean", "instruction": "0.0 for an empty list"}
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(item) + "\n", encoding="utf-8")
    improved = reply(
        "def mean(xs):\n    return math.fsum(xs) / len(xs) if xs else 0.0\n",
        "assert mean([]) == 0.0\nassert mean([2, 4]) == 3.0\n",
    )
    test_server.set_script({"rules": [generator_rule(improved), verifier_rule()]})
    assert run_cli(path, tmp_path / "data", test_server.base_url) == 0
    assert json_events(capsys.readouterr().out)[-1]["recorded"] == 1
    prompt = test_server.bodies("/v1/chat/completions")[0]["messages"][1]["content"]
    assert "0.0 for an empty list" in prompt and "return sum(xs) / len(xs)" in prompt


def test_kill_9_mid_batch_loses_nothing_recorded_and_a_rerun_finishes(
    test_server, tmp_path, capsys
):
    count = 6
    test_server.set_script(script(count))
    test_server.latency = 0.1  # slow enough to be killed in the middle
    instructions = write_instructions(tmp_path / "tasks.jsonl", count)
    data = tmp_path / "data"
    pairs = data / "training" / "pairs.jsonl"
    command = [sys.executable, "-m", "server.cli", "evolve", "--instructions", str(instructions)]
    command += ["--data-dir", str(data), "--generator-url", test_server.base_url]
    command += ["--concurrency", "1", "--progress", "json"]
    child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    reported = []
    deadline = time.monotonic() + 60
    while len(reported) < 3 and time.monotonic() < deadline:
        event = json.loads(child.stdout.readline())
        if event.get("status") == "accepted":
            reported.append(event["id"])
    time.sleep(0.2)  # into the next item's requests
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    data_bytes = pairs.read_bytes()
    assert data_bytes.endswith(b"\n")
    killed_run = [json.loads(line) for line in data_bytes.splitlines()]  # every line parses
    recorded_ids = {r["provenance"]["task_id"].split(":")[1] for r in killed_run}
    assert set(reported) <= recorded_ids and len(recorded_ids) < count

    assert run_cli(instructions, data, test_server.base_url) == 0
    result = json_events(capsys.readouterr().out)[-1]
    assert result["skipped"] >= len(reported)
    with TrainingStore.in_data_dir(data) as store:
        task_ids = [r.provenance.task_id for r in store.records()]
        assert store.torn_tails == []
    assert len(task_ids) == count and len(set(task_ids)) == count  # each item exactly once
