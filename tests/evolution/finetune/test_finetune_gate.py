"""The promotion gate: paired statistics, and a harmed adapter refused end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from finetune_helpers import progress_lines, synthetic_pairs, train_in_process

from evolution.finetune.events import RunEvents
from evolution.finetune.gate import judge_heldout_loss, judge_pass_rate
from evolution.finetune.modeling import cpu_threads
from evolution.finetune.pass_rate import Side, pass_rate_pair
from evolution.finetune.promotion import pass_rate_criterion, run_gate
from evolution.finetune.registry import AdapterRecord, AdapterRegistry, utc_now
from evolution.finetune.stats import mcnemar_exact, paired_bootstrap
from evolution.finetune.stopping import StopRequest


def test_the_bootstrap_bound_is_exact_for_identical_models_and_follows_the_evidence():
    same = paired_bootstrap(
        [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], side="upper", confidence=0.95, higher_is_better=False
    )
    assert same.bound == 0.0 and same.ties == 3
    base = [2.0 + 0.1 * (i % 7) for i in range(60)]
    better = [b - 0.3 for b in base]
    worse = [b + 0.3 + 0.05 * (i % 3) for i, b in enumerate(base)]
    up_better = paired_bootstrap(
        base, better, side="upper", confidence=0.95, higher_is_better=False
    )
    up_worse = paired_bootstrap(base, worse, side="upper", confidence=0.95, higher_is_better=False)
    assert up_better.bound == pytest.approx(-0.3) and up_better.better == 60
    assert up_worse.bound > up_worse.mean_difference > 0.3 and up_worse.worse == 60
    again = paired_bootstrap(base, worse, side="upper", confidence=0.95, higher_is_better=False)
    assert again == up_worse  # seeded: the same data gives the same decision


def test_mcnemar_exact_matches_the_binomial_tail():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 7) == mcnemar_exact(7, 3) == pytest.approx(2 * 176 / 1024)


def test_pass_rate_refuses_a_candidate_that_loses_tasks_and_accepts_a_tie(tiny_config):
    config = tiny_config(pass_rate_margin=0.05)
    tasks = [f"HumanEval/{i}" for i in range(40)]
    base = {t: i % 2 == 0 for i, t in enumerate(tasks)}
    lost = {t: p and i % 4 != 0 for i, (t, p) in enumerate(base.items())}  # 10 tasks lost
    refused = judge_pass_rate(base, lost, config)
    assert not refused.passed and refused.details["only_baseline_passed"] == 10
    assert "HumanEval/0" in refused.details["lost_tasks"]
    assert refused.details["dataset"] == "humaneval" and "humaneval pass@1" in refused.reason
    low, high = refused.details["candidate_interval"]
    assert low < 10 / 40 < high  # the candidate's own rate, 10 of 40, inside its interval
    assert judge_pass_rate(base, dict(base), config).passed
    zeros = {t: False for t in tasks}
    assert judge_pass_rate(zeros, zeros, config).passed  # random-weight models: loss decides


def test_the_gate_scores_the_task_familys_heldout_split_when_asked(tiny_config, tmp_path: Path):
    """eval_dataset picks the tasks and eval_prompt_format how they are asked, as eval does."""
    from evaluation.datasets import load_tasks

    config = tiny_config(
        eval_dataset="composed-heldout",
        eval_prompt_format="instruct",
        eval_tasks=2,
        eval_max_new_tokens=16,
    )
    events = RunEvents(json_lines=True, stream=io.StringIO())
    sides = (Side("base", None), Side("again", None))
    outcome = pass_rate_pair(
        config, sides, data_dir=tmp_path / "data", events=events, stop=StopRequest()
    )
    expected = {task.task_id for task in load_tasks("composed-heldout", 2)}
    assert set(outcome.passed["base"]) == set(outcome.passed["again"]) == expected
    summary = json.loads((Path(outcome.out_dirs["base"]) / "summary.json").read_text())
    assert summary["dataset"] == "composed-heldout"
    assert summary["source"]["prompt_format"] == "instruct"


def test_a_gate_set_that_cannot_be_loaded_fails_the_criterion_and_says_why(
    tiny_config, tmp_path: Path
):
    from evolution.finetune.promotion import Baseline

    config = tiny_config(eval_dataset=str(tmp_path / "missing.jsonl"), eval_tasks=2)
    candidate = AdapterRecord(id="ft-x", base_model="m", data_hash="0" * 64, created_at=utc_now())
    criterion = pass_rate_criterion(
        config,
        Baseline(None, None),
        candidate,
        tmp_path / "ft-x",
        data_dir=tmp_path / "data",
        events=RunEvents(json_lines=True, stream=io.StringIO()),
        stop=StopRequest(),
    )
    assert criterion is not None and not criterion.passed
    assert "missing.jsonl could not run" in criterion.reason


def test_too_few_heldout_examples_cannot_pass(tiny_config):
    criterion = judge_heldout_loss([3.0], [1.0], ["chat"], tiny_config())
    assert not criterion.passed and "at least 2" in criterion.reason


def test_a_harmed_adapter_is_refused_and_the_promoted_one_stays(
    tiny_config, tmp_path: Path, smoke_model_dir: Path
):
    """Train, promote through the gate, then harm the weights: the gate must refuse that."""
    config = tiny_config(epochs=6, eval_tasks=2, eval_max_new_tokens=48, fim_share=0.25)
    trainer, _ = train_in_process(config, synthetic_pairs(20), tmp_path / "run")
    registry = AdapterRegistry(tmp_path / "data" / "adapters")
    stream = io.StringIO()

    def gate(adapter_id: str):
        folder = tmp_path / adapter_id
        trainer.unwrapped.save_pretrained(folder)
        record = AdapterRecord(
            id=adapter_id, base_model=str(smoke_model_dir), data_hash="0" * 64, created_at=utc_now()
        )
        record = registry.add(folder, record)
        with cpu_threads(config.threads):
            return run_gate(
                model=trainer.unwrapped,
                release_model=lambda: None,  # the test keeps the model to harm it next
                registry=registry,
                candidate=record,
                config=config,
                data=trainer.data,
                pad_id=trainer.pad_id,
                report={"adapter_id": record.id, "base_model": record.base_model, "gate": None},
                data_dir=tmp_path / "data",
                events=RunEvents(json_lines=True, stream=stream),
                stop=StopRequest(),
            )

    good = gate("ft-good")
    assert good is not None and good.status == "promoted", good.gate
    with torch.no_grad():
        for name, param in trainer.unwrapped.named_parameters():
            if "lora_B" in name:
                param.mul_(40.0)
    harmed = gate("ft-harmed")
    assert harmed is not None and harmed.status == "rejected"
    promoted = registry.promoted()
    assert promoted is not None and promoted.id == "ft-good"
    criteria = {c["name"]: c for c in harmed.gate["criteria"]}
    assert not criteria["heldout_loss"]["passed"]
    assert criteria["heldout_loss"]["comparison"]["mean_difference"] > config.loss_margin
    assert harmed.gate["baseline"] == "ft-good"
    assert criteria["pass_rate"]["details"]["tasks"] == 2
    text = (registry.path_of("ft-harmed") / "report.txt").read_text(encoding="utf-8")
    assert "NOT PROMOTED" in text and "[FAIL] heldout_loss" in text
    report = json.loads((registry.path_of("ft-harmed") / "report.json").read_text())
    assert report["gate"]["promote"] is False
    assert "ft-harmed pass@1" in text and "95% interval" in text
    page = (registry.path_of("ft-harmed") / "report.html").read_text()
    assert "<pre>" in page and page.count("<circle") == 2  # baseline and candidate pass@1
    gate_lines = [e for e in progress_lines(stream) if e.get("phase") == "gate"]
    assert any(e.get("promote") is False for e in gate_lines)
