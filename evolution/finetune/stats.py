"""Paired comparisons for the promotion gate: a percentile bootstrap, an exact McNemar test
and Wilcoxon's signed-rank test.

Both models are scored on the same items (held-out examples, HumanEval tasks), so the gate
works on the per-item differences ``d_i = candidate_i - baseline_i``; pairing removes the
item-to-item variance that dominates small evaluation sets.

``paired_bootstrap`` resamples the items with replacement (seeded, 5,000 resamples) and takes
the one-sided percentile bound of the mean difference at the given confidence. It makes no
normality assumption, which matters for pass/fail data and for skewed per-example losses;
with few items the bound is rough, which is why the gate also insists on a minimum count.
``mcnemar_exact`` is the exact two-sided binomial test on the discordant pairs (b: only the
baseline passed, c: only the candidate passed), reported beside the bound for pass/fail data.
``wilcoxon_signed_rank`` tests graded per-item scores (edit similarity of completions) without
assuming they are normal. ``fisher_exact_lower`` is the one unpaired test: live acceptance of
suggestions from two adapters (different suggestions, so nothing to pair), one-sided.
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


# Up to this many non-zero differences without ties, the Wilcoxon p-value is exact.
WILCOXON_EXACT_MAX = 50


@dataclass(frozen=True)
class SignedRankTest:
    """Wilcoxon's signed-rank test of paired differences (zero differences dropped)."""

    n: int  # non-zero differences
    statistic: float  # W+: the rank sum of the positive differences
    p_value: float  # two-sided
    method: Literal["exact", "normal"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilcoxon_signed_rank(
    differences: Sequence[float], *, exact_max: int = WILCOXON_EXACT_MAX
) -> SignedRankTest:
    """Two-sided Wilcoxon signed-rank test that the differences are centred on zero.

    Zeros are dropped (Wilcoxon's own rule, scipy's default ``zero_method="wilcox"``); tied
    absolute values get their average rank. With at most ``exact_max`` differences and no
    ties the p-value comes from the exact null distribution of W+ (every sign pattern equally
    likely); otherwise from the normal approximation with the tie correction of the
    variance and no continuity correction (as scipy's ``method="approx"``).
    """
    nonzero = [float(d) for d in differences if d != 0]
    n = len(nonzero)
    if n == 0:
        return SignedRankTest(0, 0.0, 1.0, "exact")
    ranks, tie_sizes = _average_ranks([abs(d) for d in nonzero])
    w_plus = sum(r for r, d in zip(ranks, nonzero, strict=True) if d > 0)
    if n <= exact_max and all(t == 1 for t in tie_sizes):
        return SignedRankTest(n, w_plus, _exact_signed_rank_p(n, round(w_plus)), "exact")
    mean = n * (n + 1) / 4.0
    variance = n * (n + 1) * (2 * n + 1) / 24.0 - sum(t**3 - t for t in tie_sizes) / 48.0
    if variance <= 0:  # every difference the same size and sign is impossible here: n > 0
        return SignedRankTest(n, w_plus, 1.0, "normal")
    z = (w_plus - mean) / math.sqrt(variance)
    return SignedRankTest(n, w_plus, min(1.0, math.erfc(abs(z) / math.sqrt(2.0))), "normal")


def _average_ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """1-based ranks with ties averaged, and the size of each group of equal values."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    sizes = []
    start = 0
    while start < len(order):
        end = start
        # Float differences of equal size may differ in the last bits: compare rounded.
        while end + 1 < len(order) and math.isclose(
            values[order[end + 1]], values[order[start]], rel_tol=1e-12, abs_tol=1e-12
        ):
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2.0 + 1.0
        sizes.append(end - start + 1)
        start = end + 1
    return ranks, sizes


def _exact_signed_rank_p(n: int, w_plus: int) -> float:
    """Two-sided exact p of W+ = ``w_plus`` for ``n`` untied ranks: 2 × the smaller tail."""
    top = n * (n + 1) // 2
    counts = [1] + [0] * top  # counts[s]: sign patterns whose positive ranks sum to s
    for rank in range(1, n + 1):
        for s in range(top, rank - 1, -1):
            counts[s] += counts[s - rank]
    total = 2.0**n
    lower = sum(counts[: w_plus + 1]) / total
    upper = sum(counts[w_plus:]) / total
    return min(1.0, 2.0 * min(lower, upper))


def fisher_exact_lower(before_hits: int, before_n: int, after_hits: int, after_n: int) -> float:
    """One-sided Fisher exact p-value that the "after" rate is lower than the "before" rate.

    Conditional on both margins, the after group's hit count is hypergeometric; the p-value is
    P(X <= after_hits). Summed in log space so that thousands of suggestions do not overflow.
    """
    if not (0 <= before_hits <= before_n and 0 <= after_hits <= after_n):
        raise ValueError("hits must lie between 0 and n")
    total, hits = before_n + after_n, before_hits + after_hits
    low = max(0, hits - before_n)
    if after_hits < low:
        return 0.0

    def log_comb(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    denominator = log_comb(total, after_n)
    terms = [
        log_comb(hits, k) + log_comb(total - hits, after_n - k) - denominator
        for k in range(low, after_hits + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))
