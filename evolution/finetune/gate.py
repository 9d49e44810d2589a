"""The promotion gate: a candidate adapter serves only when it is shown not to be worse.

Small-data fine-tuning can hurt a strong small model (see design.md), so the question is one
of non-inferiority, and the burden of proof is on the candidate. It is compared with the
baseline (the promoted adapter, or the base model when none is) on two paired measurements:

1. **Held-out loss.** Each held-out example (chat turns and FIM spans of pairs never trained
   on, split by record hash) gets its mean loss per response token under both models;
   ``d_i = candidate_i - baseline_i``. The candidate passes when the one-sided upper
   ``confidence`` bound (default 95 %) of mean(d), from a paired percentile bootstrap, is at
   most ``loss_margin`` nats/token (default 0.02): even in the unlucky case it is at most that
   much worse. At least two held-out examples are needed to decide at all.
2. **Pass rate.** The first ``eval_tasks`` tasks of ``eval_dataset`` (HumanEval by default;
   ``composed-heldout``, the task family's held-out split, judges an adapter trained on
   self-evolved pairs on the skill they teach) are run greedily, one sample per task, for both
   models through ``evaluation``; ``d_i`` is +1 / 0 / -1 per task (only the candidate passes /
   same / only the baseline passes). The candidate passes when the lower ``confidence`` bound
   of mean(d), i.e. of the pass@1 difference, is at least ``-pass_rate_margin`` (default 5
   points). The exact McNemar p-value on the discordant tasks
   is reported beside it. When both models pass the same tasks (e.g. both pass none, as
   random-weight test models do), d is all zero, the bound is 0 and held-out loss decides.

Both criteria must pass. The decision, the numbers behind it and one sentence of why go into
the adapter's report; a refused candidate stays in the registry as ``rejected`` and the
serving adapter does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from evolution.finetune.config import FinetuneConfig
from evolution.finetune.records import MIN_HELDOUT
from evolution.finetune.stats import PairedComparison, mcnemar_exact, paired_bootstrap


@dataclass
class Criterion:
    """One measurement of the gate and its verdict."""

    name: str  # "heldout_loss" | "pass_rate"
    passed: bool
    reason: str
    margin: float
    comparison: PairedComparison | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["comparison"] = self.comparison.to_dict() if self.comparison else None
        return data


@dataclass
class GateDecision:
    """Promote or not, against which baseline, and why."""

    promote: bool
    baseline: str  # "base" or the baseline adapter's id
    reason: str
    criteria: list[Criterion]

    def to_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "baseline": self.baseline,
            "reason": self.reason,
            "criteria": [c.to_dict() for c in self.criteria],
        }


def judge_heldout_loss(
    baseline: Sequence[float],
    candidate: Sequence[float],
    kinds: Sequence[str],
    config: FinetuneConfig,
) -> Criterion:
    """Criterion 1: the upper bound of the mean loss difference within ``loss_margin``."""
    margin = config.loss_margin
    if len(candidate) < MIN_HELDOUT:
        return Criterion(
            "heldout_loss",
            False,
            f"only {len(candidate)} held-out examples; at least {MIN_HELDOUT} are needed",
            margin,
        )
    comparison = paired_bootstrap(
        baseline,
        candidate,
        side="upper",
        confidence=config.confidence,
        higher_is_better=False,
        seed=config.seed,
    )
    by_kind = {
        kind: {
            "n": sum(1 for k in kinds if k == kind),
            "baseline": _mean([b for b, k in zip(baseline, kinds, strict=True) if k == kind]),
            "candidate": _mean([c for c, k in zip(candidate, kinds, strict=True) if k == kind]),
        }
        for kind in sorted(set(kinds))
    }
    passed = comparison.bound <= margin
    pct = round(config.confidence * 100)
    verdict = "within" if passed else "beyond"
    reason = (
        f"held-out loss {comparison.candidate_mean:.4f} vs {comparison.baseline_mean:.4f} "
        f"nats/token (difference {comparison.mean_difference:+.4f}, {pct}% upper bound "
        f"{comparison.bound:+.4f}, {verdict} the margin {margin:g})"
    )
    return Criterion("heldout_loss", passed, reason, margin, comparison, {"by_kind": by_kind})


def judge_pass_rate(
    baseline: Mapping[str, bool], candidate: Mapping[str, bool], config: FinetuneConfig
) -> Criterion:
    """Criterion 2: the lower bound of the pass@1 difference within ``-pass_rate_margin``."""
    from evaluation.metrics import wilson_interval

    margin = config.pass_rate_margin
    dataset = config.eval_dataset
    tasks = sorted(set(baseline) & set(candidate))
    if not tasks:
        return Criterion("pass_rate", False, f"no {dataset} task was scored for both", margin)
    base = [float(baseline[t]) for t in tasks]
    cand = [float(candidate[t]) for t in tasks]
    comparison = paired_bootstrap(
        base,
        cand,
        side="lower",
        confidence=config.confidence,
        higher_is_better=True,
        seed=config.seed,
    )
    only_base = sum(1 for t in tasks if baseline[t] and not candidate[t])
    only_cand = sum(1 for t in tasks if candidate[t] and not baseline[t])
    passed = comparison.bound >= -margin
    pct = round(config.confidence * 100)
    reason = (
        f"{dataset} pass@1 {comparison.candidate_mean:.3f} vs {comparison.baseline_mean:.3f} on "
        f"{len(tasks)} tasks ({only_cand} gained, {only_base} lost; {pct}% lower bound of the "
        f"difference {comparison.bound:+.3f}, {'within' if passed else 'beyond'} the margin "
        f"-{margin:g})"
    )
    details = {
        "dataset": dataset,
        "tasks": len(tasks),
        "only_baseline_passed": only_base,
        "only_candidate_passed": only_cand,
        "mcnemar_p": mcnemar_exact(only_base, only_cand),
        # Each side's own pass rate with its 95% Wilson interval, for the report.
        "baseline_interval": list(wilson_interval(comparison.baseline_mean, len(tasks))),
        "candidate_interval": list(wilson_interval(comparison.candidate_mean, len(tasks))),
        "lost_tasks": [t for t in tasks if baseline[t] and not candidate[t]],
    }
    return Criterion("pass_rate", passed, reason, margin, comparison, details)


def decide(criteria: Sequence[Criterion], baseline: str) -> GateDecision:
    """Promote only when every criterion passed; the reason quotes the failing ones first."""
    failed = [c for c in criteria if not c.passed]
    against = "the base model" if baseline == "base" else f"adapter {baseline}"
    if failed:
        reason = f"not promoted (baseline: {against}): " + "; ".join(c.reason for c in failed)
    else:
        reason = f"promoted (baseline: {against}): " + "; ".join(c.reason for c in criteria)
    return GateDecision(not failed and bool(criteria), baseline, reason, list(criteria))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
