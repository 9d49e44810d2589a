"""Fine-tuning and evaluation launches without running them, and the child-process reader."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

import pytest

from server.runs.child import ChildExit, ChildProcess, child_environment
from server.runs.evaluation import eval_argv
from server.runs.finetune import FinetuneSetupError, launch
from server.settings import EvaluationSettings, Settings


def flags(argv: list[str]) -> dict[str, str]:
    """``--name value`` pairs (and bare ``--flag``: "") of a command line."""
    found: dict[str, str] = {}
    for index, item in enumerate(argv):
        if item.startswith("--"):
            value = argv[index + 1] if index + 1 < len(argv) else ""
            found[item] = "" if value.startswith("--") else value
    return found


def test_the_gate_can_be_pointed_at_the_task_familys_heldout_split(tmp_path):
    tune = replace(
        Settings().finetune, eval_dataset="composed-heldout", eval_prompt_format="instruct"
    )
    settings = replace(Settings(), data_dir=str(tmp_path), finetune=tune)
    given = flags(launch(settings, {}, resume=False).argv)
    assert given["--eval-dataset"] == "composed-heldout"
    assert given["--eval-prompt-format"] == "instruct"


def test_a_fine_tune_takes_the_settings_then_the_overrides(tmp_path):
    settings = replace(Settings(), model="/m/Tiny", data_dir=str(tmp_path), dtype="float32")
    plan = launch(settings, {"learningRate": 0.001, "eval_tasks": 2}, resume=False)
    given = flags(plan.argv)
    assert plan.argv[1:5] == ["-m", "server.cli", "finetune", "--progress"]
    assert given["--base-model"] == "/m/Tiny" and given["--dtype"] == "float32"
    assert given["--learning-rate"] == "0.001" and given["--eval-tasks"] == "2"  # overrides win
    assert given["--epochs"] == "3.0" and given["--lora-rank"] == "16"  # the settings' defaults
    assert given["--system-prompt"] == settings.chat.system_prompt
    assert given["--eval-dataset"] == "humaneval" and given["--eval-prompt-format"] == "auto"
    assert given["--save-path"] == str(tmp_path / "finetune" / plan.run_id)
    assert given["--data-dir"] == str(tmp_path) and "--auto-promote" in given


@pytest.mark.parametrize(
    ("changes", "overrides", "resume", "message"),
    [
        ({"backend": "remote"}, {}, False, "evoselfcode.backend is 'remote'"),
        ({}, {"loraRank": 0}, False, "lora_rank must be ≥ 1, got 0"),
        ({}, {"warp": 9}, False, "unknown fine-tuning setting 'warp'"),
        ({}, {}, True, "no unfinished fine-tuning run"),
    ],
)
def test_a_fine_tune_that_cannot_start_says_why(tmp_path, changes, overrides, resume, message):
    settings = replace(Settings(), data_dir=str(tmp_path), **changes)
    with pytest.raises(FinetuneSetupError, match=message):
        launch(settings, overrides, resume=resume)


def test_an_evaluation_uses_the_evaluation_settings(tmp_path):
    evaluation = EvaluationSettings(workers=3, timeout_seconds=2.5, samples_per_task=2)
    settings = replace(Settings(), model="M", data_dir=str(tmp_path), evaluation=evaluation)
    given = flags(eval_argv(settings, "mbpp", 0))
    assert given["--model"] == "M" and given["--dataset"] == "mbpp"
    assert given["--workers"] == "3" and given["--timeout"] == "2.5"
    assert given["--samples-per-task"] == "2" and "--limit" not in given  # 0: every task
    assert given["--data-dir"] == str(tmp_path) and "--adapter" not in given  # none promoted
    assert flags(eval_argv(settings, "humaneval", 5))["--limit"] == "5"


def test_a_failure_without_a_result_names_the_last_words():
    crashed = ChildExit(1, None, None, "Traceback ...\nMemoryError: boom\n\n")
    assert (
        crashed.failure("the run")
        == "the run exited with status 1 without a result: MemoryError: boom"
    )
    refused = ChildExit(3, None, {"event": "error", "message": "no training data"}, "")
    assert refused.failure("the run") == "no training data"


CHILD = """
import json, sys, time
print("a line that is not JSON", flush=True)
print(json.dumps({"event": "progress", "done": 1, "total": 2}), flush=True)
print("to stderr", file=sys.stderr, flush=True)
print(json.dumps({"event": "result", "answer": 42}), flush=True)
if len(sys.argv) > 1:
    time.sleep(60)
"""


@pytest.mark.asyncio
async def test_a_child_relays_json_lines_and_keeps_its_result():
    events = []
    child = ChildProcess([sys.executable, "-c", CHILD], name="child", on_event=events.append)
    await child.start()
    ended = await asyncio.wait_for(child.wait(), 30)
    assert ended.returncode == 0 and ended.result == {"event": "result", "answer": 42}
    assert [e["event"] for e in events] == ["progress", "result"]
    assert "to stderr" in ended.stderr_tail


@pytest.mark.asyncio
async def test_a_child_is_stopped_with_its_group():
    events = []
    argv = [sys.executable, "-c", CHILD, "linger"]
    child = ChildProcess(argv, name="child", on_event=events.append, env=child_environment())
    await child.start()
    while not any(e["event"] == "result" for e in events):
        await asyncio.sleep(0.01)
    assert child.running and child.stop(group=True, grace_s=5)
    ended = await asyncio.wait_for(child.wait(), 30)  # instead of sleeping a minute
    assert ended.returncode < 0 and not child.running
    assert child.stop(group=True) is False
    assert ended.result == {"event": "result", "answer": 42}  # read before it was stopped
