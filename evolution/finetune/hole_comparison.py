"""Before and after on the same single-line holes: what the completion adapter's gate decides
on and what ``bench/efficacy_repo.py`` prints.

Per score (``evaluation.line_holes.HoleScore``): each side's mean with its interval (normal
approximation for edit similarity, Wilson for the yes/no scores, which stays inside [0, 1] when
a share is near 0), the paired mean difference (after - before) with a two-sided
percentile-bootstrap interval, how many holes got better and worse, and a paired p-value:
Wilcoxon's signed-rank test for edit similarity (graded, far from normal: many ties at 0 and
1), the exact McNemar test for the yes/no scores (exact match; valid and non-empty, i.e. the
syntax check).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from evaluation.line_holes import HoleScore
from evolution.finetune.stats import mcnemar_exact, paired_bootstrap, wilcoxon_signed_rank

LABEL_WIDTH = 34  # of a table row's label ("held-out files, valid & non-empty")
# score -> the paired test of its p-value
SCORE_TESTS = {"edit_similarity": "wilcoxon", "exact": "mcnemar", "valid_nonempty": "mcnemar"}


@dataclass(frozen=True)
class ScoreChange:
    """One score of the same holes before and after."""

    score: str
    n: int
    before: float
    after: float
    before_interval: tuple[float, float]
    after_interval: tuple[float, float]
    difference: float  # after - before
    difference_interval: tuple[float, float]  # paired bootstrap, two-sided
    better: int  # holes where after scored higher
    worse: int
    p_value: float  # two-sided, paired
    test: str  # "wilcoxon" | "mcnemar"
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self, label: str) -> str:
        """One row of a table: ``label  before → after  difference  p``."""
        pct = round(self.confidence * 100)
        (b_lo, b_hi), (a_lo, a_hi) = self.before_interval, self.after_interval
        d_lo, d_hi = self.difference_interval
        return (
            f"{label:<{LABEL_WIDTH}} {self.before:6.3f} [{b_lo:.3f}, {b_hi:.3f}] → "
            f"{self.after:6.3f} [{a_lo:.3f}, {a_hi:.3f}]  {100 * self.difference:+6.2f} pts "
            f"({pct}% {100 * d_lo:+.2f} to {100 * d_hi:+.2f}); +{self.better}/-{self.worse} "
            f"holes, p = {self.p_value:.3g} ({self.test})"
        )


def compare_holes(
    before: Sequence[HoleScore],
    after: Sequence[HoleScore],
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, ScoreChange]:
    """Every score of ``SCORE_TESTS`` compared, paired hole by hole."""
    if len(before) != len(after) or not before:
        raise ValueError("compare_holes needs the scores of the same, non-empty list of holes")
    return {
        name: compare_scores(
            [float(getattr(s, name)) for s in before],
            [float(getattr(s, name)) for s in after],
            score=name,
            test=test,
            confidence=confidence,
            seed=seed,
        )
        for name, test in SCORE_TESTS.items()
    }


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean ± z · standard error (normal approximation; fine for hundreds of holes)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return (mean, mean)
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    half = z * statistics.stdev(values) / math.sqrt(len(values))
    return (mean - half, mean + half)


def _side_interval(values: list[float], test: str, confidence: float) -> tuple[float, float]:
    if test == "wilcoxon":
        return mean_interval(values, confidence)
    from evaluation.metrics import wilson_interval

    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    return wilson_interval(statistics.fmean(values), len(values), z)


def compare_scores(
    before: Sequence[float],
    after: Sequence[float],
    *,
    score: str,
    test: str,
    confidence: float = 0.95,
    seed: int = 0,
) -> ScoreChange:
    """One score of the same items before and after, paired: ``test`` is "wilcoxon" for a
    graded score (edit similarity), "mcnemar" for a yes/no one (0/1 values)."""
    before, after = [float(v) for v in before], [float(v) for v in after]
    one_sided = 0.5 + confidence / 2  # two one-sided bounds make the two-sided interval
    low, high = (
        paired_bootstrap(
            before, after, side=side, confidence=one_sided, higher_is_better=True, seed=seed
        )
        for side in ("lower", "upper")
    )
    if test == "wilcoxon":
        p_value = wilcoxon_signed_rank([a - b for a, b in zip(after, before, strict=True)]).p_value
    else:
        p_value = mcnemar_exact(low.worse, low.better)
    return ScoreChange(
        score=score,
        n=len(before),
        before=low.baseline_mean,
        after=low.candidate_mean,
        before_interval=_side_interval(before, test, confidence),
        after_interval=_side_interval(after, test, confidence),
        difference=low.mean_difference,
        difference_interval=(low.bound, high.bound),
        better=low.better,
        worse=low.worse,
        p_value=p_value,
        test=test,
        confidence=confidence,
    )
