"""The completion adapter's gate: held-out files' holes and accepted completions, paired tests,
a margin on general code; end to end on the smoke model (RANDOM WEIGHTS)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from test_finetune_workspace import NAMES, make_workspace

from evaluation.line_holes import HoleScore
from evolution.finetune.completion_gate import judge_general, judge_workspace, target_holes
from evolution.finetune.events import RunEvents
from evolution.finetune.hole_comparison import compare_holes
from evolution.finetune.registry import AdapterRegistry
from evolution.finetune.run import RunRequest, run_finetune
from evolution.finetune.stopping import StopRequest
from evolution.workspace import AcceptedTarget, WorkspaceFile


def _scores(similarities: list[float]) -> list[HoleScore]:
    return [HoleScore(s == 1.0, s, s > 0, True) for s in similarities]


def test_a_supported_gain_passes_and_a_small_or_noisy_one_does_not(tiny_config):
    config = tiny_config()
    before = _scores([0.3, 0.5, 0.2, 0.9] * 50)
    gained = judge_workspace(compare_holes(before, _scores([0.5, 0.6, 0.2, 1.0] * 50)), 3, config)
    assert (
        gained.passed and "Wilcoxon p = " in gained.reason and "3 of them accepted" in gained.reason
    )
    assert gained.details["edit_similarity"]["difference"] > 0
    # Two holes better, two worse by as much, the rest the same: no gain.
    mixed = _scores([0.3, 0.5, 0.2, 0.9] * 49 + [0.4, 0.6, 0.1, 0.8] * 1)
    noisy = judge_workspace(compare_holes(before, mixed), 0, config)
    assert not noisy.passed and "no gain" in noisy.reason
    worse = judge_workspace(compare_holes(before, _scores([0.1, 0.4, 0.2, 0.9] * 50)), 0, config)
    assert not worse.passed


def test_general_code_may_not_drop_by_more_than_the_margin(tiny_config):
    before = _scores([0.5] * 100)
    config = tiny_config(general_margin=0.01)
    slightly = judge_general(compare_holes(before, _scores([0.5] * 99 + [0.0])), config)
    assert slightly.passed and "within the margin -1 points" in slightly.reason  # -0.5 points
    much = judge_general(compare_holes(before, _scores([0.5] * 90 + [0.0] * 10)), config)
    assert not much.passed and "beyond" in much.reason  # -5 points
    unchecked = judge_general(None, config)
    assert unchecked.passed and "not checked" in unchecked.reason


def test_an_accepted_completion_becomes_a_hole_at_its_cursor():
    text = "def f(x):\n    total = x + 1\n    return total\n"
    start = text.index("x + 1")
    target = AcceptedTarget(
        "a.py", start, start + len("x + 1\n    return"), "x + 1\n    return", "accepted", "r1"
    )
    (hole,) = target_holes([target], [WorkspaceFile("a.py", text, "0" * 64)])
    assert hole.middle == "x + 1" and hole.prefix.endswith("total = ") and hole.line == 2
    assert hole.suffix.startswith("\n    return total") and hole.parses


def test_the_gate_replays_held_out_files_and_settles_the_adapter(tiny_config, tmp_path):
    workspace = make_workspace(tmp_path / "proj", NAMES)
    data_dir = tmp_path / "data"
    config = tiny_config(workspace=str(workspace), gate_holes=12, workspace_fim_variants=1)
    request = RunRequest(config=config, data_path=data_dir / "unused.jsonl", data_dir=data_dir)
    stream = io.StringIO()
    result = run_finetune(request, RunEvents(json_lines=True, stream=stream), StopRequest())
    report = json.loads(Path(result.report_path or "").read_text(encoding="utf-8"))
    gate = report["gate"]
    names = [c["name"] for c in gate["criteria"]]
    # The pair gate's held-out loss (here the held-out files' FIM examples), then completions
    # in place of HumanEval's pass rate.
    assert names == ["heldout_loss", "workspace_completions", "general_code"]
    loss, workspace_criterion, general = gate["criteria"]
    assert loss["comparison"]["n"] == report["data"]["heldout_examples"]["repo-fim"]
    assert workspace_criterion["details"]["edit_similarity"]["n"] == 12
    assert "not checked" in general["reason"]  # the smoke model lists no held-out files
    record = AdapterRegistry(Path(result.adapter_path or "").parent).get(result.adapter_id or "")
    assert result.promoted == gate["promote"]
    assert record.status == ("promoted" if result.promoted else "rejected")
    assert AdapterRegistry.in_data_dir(data_dir).records() == []  # no HumanEval, no pair gate
    assert "humaneval" not in stream.getvalue().lower()
    text = (Path(result.adapter_path or "") / "report.txt").read_text(encoding="utf-8")
    assert "workspace_completions" in text and "Wilcoxon" in text
