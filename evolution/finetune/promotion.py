"""Run the promotion gate for a trained candidate and record the outcome in the registry.

The statistics and the rule are documented in ``gate.py``; this module gathers the paired
measurements (held-out losses in this process, pass rates through ``evaluation``), writes the
reports beside the adapter and promotes or rejects it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.finetune.config import FinetuneConfig
from evolution.finetune.dataset import PreparedData
from evolution.finetune.errors import EvaluationUnavailable
from evolution.finetune.events import RunEvents
from evolution.finetune.gate import (
    Criterion,
    GateDecision,
    decide,
    judge_heldout_loss,
    judge_pass_rate,
)
from evolution.finetune.heldout import active_adapter, per_example_losses
from evolution.finetune.registry import AdapterRecord, AdapterRegistry
from evolution.finetune.report import write_reports
from evolution.finetune.serving import same_base_model
from evolution.finetune.stopping import StopRequest


@dataclass(frozen=True)
class Baseline:
    """What the candidate must not be worse than."""

    adapter_id: str | None  # None: the base model
    path: Path | None

    @property
    def label(self) -> str:
        return self.adapter_id or "base"


def current_baseline(registry: AdapterRegistry, base_model: str) -> Baseline:
    """The promoted adapter when it was trained on the same base model, else the base."""
    promoted = registry.promoted()
    if promoted is None or not same_base_model(promoted.base_model, base_model):
        return Baseline(None, None)
    return Baseline(promoted.id, registry.path_of(promoted.id))


def heldout_criterion(
    model: Any, data: PreparedData, baseline: Baseline, config: FinetuneConfig, pad_id: int
) -> Criterion:
    """Per-example held-out losses of baseline and candidate, judged by ``gate.py``."""
    kwargs = {
        "pad_id": pad_id,
        "max_length": config.max_length,
        "rows_per_batch": config.batch_size,
    }
    with active_adapter(model, baseline.path):
        base = per_example_losses(model, data.heldout, **kwargs)
    with active_adapter(model, "default"):
        cand = per_example_losses(model, data.heldout, **kwargs)
    return judge_heldout_loss(base, cand, [e.kind for e in data.heldout], config)


def pass_rate_criterion(
    config: FinetuneConfig,
    baseline: Baseline,
    candidate: AdapterRecord,
    candidate_path: Path,
    *,
    data_dir: Path,
    events: RunEvents,
    stop: StopRequest,
) -> Criterion | None:
    """Both models on the same tasks of ``eval_dataset``; None when a stop interrupted it.

    When the evaluation cannot run at all, the criterion fails (and says why): an adapter that
    could not be checked is not promoted.
    """
    from evolution.finetune.pass_rate import Side, pass_rate_pair

    gc.collect()  # the training model is gone by now: give its memory back first
    sides = (Side(baseline.label, baseline.path), Side(candidate.id, candidate_path))
    try:
        outcome = pass_rate_pair(config, sides, data_dir=data_dir, events=events, stop=stop)
    except EvaluationUnavailable as exc:
        reason = f"{config.eval_dataset} could not run: {exc}"
        return Criterion("pass_rate", False, reason, config.pass_rate_margin)
    if outcome.cancelled:
        return None
    criterion = judge_pass_rate(
        outcome.passed[baseline.label], outcome.passed[candidate.id], config
    )
    criterion.details["eval_runs"] = outcome.out_dirs
    return criterion


def settle(
    registry: AdapterRegistry,
    candidate: AdapterRecord,
    decision: GateDecision | None,
    report: dict[str, Any],
) -> AdapterRecord:
    """Write the reports beside the adapter, then promote or reject it (None: no gate)."""
    folder = registry.path_of(candidate.id)
    report_path = write_reports(folder, report)
    gate = decision.to_dict() if decision else None
    record = registry.update(candidate.id, gate=gate, report=report_path.name)
    if decision is None:
        return record
    if decision.promote:
        return registry.promote(candidate.id, reason=decision.reason)
    return registry.reject(candidate.id, reason=decision.reason)


def run_gate(
    *,
    model: Any,
    release_model: Callable[[], None],
    registry: AdapterRegistry,
    candidate: AdapterRecord,
    config: FinetuneConfig,
    data: PreparedData,
    pad_id: int,
    report: dict[str, Any],
    data_dir: Path,
    events: RunEvents,
    stop: StopRequest,
    judge: Callable[[Baseline], list[Criterion] | None] | None = None,
) -> AdapterRecord | None:
    """Judge ``candidate`` and settle it; None when a stop interrupted the gate.

    ``model`` is the trained peft model (held-out losses are computed with it, the baseline
    adapter loaded beside the candidate); ``release_model`` frees it before the pass-rate
    evaluation loads the serving model. ``judge`` replaces the pass-rate comparison: the
    criteria it finds against the baseline, or None when stopped (a completion adapter's
    gate, ``completion_gate.py``).
    """
    if candidate.gate is not None:  # settled before a kill; the run only needs to finish
        return candidate
    if not config.auto_promote:
        release_model()
        return settle(registry, candidate, None, report)
    baseline = current_baseline(registry, config.base_model)
    events.phase("gate", f"held-out loss: {baseline.label} vs {candidate.id}")
    criteria = [heldout_criterion(model, data, baseline, config, pad_id)]
    release_model()
    if judge is not None:
        more = judge(baseline)
    else:
        more = _pass_rate_criteria(config, baseline, candidate, registry, data_dir, events, stop)
    if more is None:
        return None
    decision = decide([*criteria, *more], baseline.label)
    report["gate"] = decision.to_dict()
    events.phase("gate", decision.reason, promote=decision.promote)
    return settle(registry, candidate, decision, report)


def _pass_rate_criteria(
    config: FinetuneConfig,
    baseline: Baseline,
    candidate: AdapterRecord,
    registry: AdapterRegistry,
    data_dir: Path,
    events: RunEvents,
    stop: StopRequest,
) -> list[Criterion] | None:
    events.phase(
        "gate",
        f"{config.eval_dataset}: {config.eval_tasks or 'all'} tasks, {baseline.label} vs candidate",
    )
    pass_rate = pass_rate_criterion(
        config,
        baseline,
        candidate,
        registry.path_of(candidate.id),
        data_dir=data_dir,
        events=events,
        stop=stop,
    )
    return None if pass_rate is None else [pass_rate]
