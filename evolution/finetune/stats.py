"""Paired comparisons for the promotion gate: a percentile bootstrap and an exact McNemar test.

Both models are scored on the same items (held-out examples, HumanEval tasks), so the gate
works on the per-item differences ``d_i = candidate_i - baseline_i``; pairing removes the
item-to-item variance that dominates small evaluation sets.

``paired_bootstrap`` resamples the items with replacement (seeded, 5,000 resamples) and takes
the one-sided percentile bound of the mean difference at the given confidence. It makes no
normality assumption, which matters for pass/fail data and for skewed per-example losses;
with few items the bound is rough, which is why the gate also insists on a minimum count.
``mcnemar_exact`` is the exact two-sided binomial test on the discordant pairs (b: only the
baseline passed, c: only the candidate passed), reported beside the bound for pass/fail data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

RESAMPLES = 5000
_CHUNK = 500


@dataclass(frozen=True)
class PairedComparison:
    """Summary of candidate vs baseline on ``n`` paired items."""

    n: int
    baseline_mean: float
    candidate_mean: float
    mean_difference: float  # candidate - baseline
    bound: float  # one-sided bootstrap bound of the mean difference
    side: Literal["upper", "lower"]
    confidence: float
    better: int  # items where the candidate did better
    worse: int
    ties: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_bootstrap(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    side: Literal["upper", "lower"],
    confidence: float,
    higher_is_better: bool,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> PairedComparison:
    """Mean of ``candidate - baseline`` and its one-sided percentile bootstrap bound."""
    import numpy as np

    if len(baseline) != len(candidate) or not baseline:
        raise ValueError("paired_bootstrap needs two equally long, non-empty sequences")
    base = np.asarray(baseline, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    diff = cand - base  # (n,)
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, resamples, _CHUNK):
        count = min(_CHUNK, resamples - start)
        picks = rng.integers(0, len(diff), size=(count, len(diff)))  # (count, n)
        means.append(diff[picks].mean(axis=1))
    resampled = np.concatenate(means)  # (resamples,)
    quantile = confidence if side == "upper" else 1.0 - confidence
    signed = diff if higher_is_better else -diff
    return PairedComparison(
        n=len(diff),
        baseline_mean=float(base.mean()),
        candidate_mean=float(cand.mean()),
        mean_difference=float(diff.mean()),
        bound=float(np.quantile(resampled, quantile)),
        side=side,
        confidence=confidence,
        better=int((signed > 0).sum()),
        worse=int((signed < 0).sum()),
        ties=int((signed == 0).sum()),
    )


def mcnemar_exact(only_baseline: int, only_candidate: int) -> float:
    """Two-sided exact McNemar p-value: binomial(b + c, 1/2) on the discordant pairs."""
    n = only_baseline + only_candidate
    if n == 0:
        return 1.0
    k = min(only_baseline, only_candidate)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)
