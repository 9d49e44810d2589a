"""Wilcoxon's signed-rank test against published values, and the paired hole comparison."""

from __future__ import annotations

import math

import pytest

from evaluation.line_holes import HoleScore
from evolution.finetune.hole_comparison import compare_holes, mean_interval
from evolution.finetune.stats import wilcoxon_signed_rank

# Hollander & Wolfe's depression scores, R's `wilcox.test(x, y, paired = TRUE)` example:
# V = 40, p-value = 0.03906.
FIRST = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
SECOND = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
# Fisher's growth differences, scipy.stats.wilcoxon's example: exact p = 0.041259765625.
FISHER = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]


def test_exact_p_values_match_r_and_scipy():
    depression = wilcoxon_signed_rank([a - b for a, b in zip(FIRST, SECOND, strict=True)])
    assert depression.method == "exact" and depression.statistic == 40
    assert depression.p_value == pytest.approx(0.0390625, abs=1e-12)
    fisher = wilcoxon_signed_rank(FISHER)
    assert fisher.statistic == 96 and fisher.p_value == pytest.approx(0.041259765625, abs=1e-12)
    # The sign of every difference flipped: the same two-sided p.
    assert wilcoxon_signed_rank([-d for d in FISHER]).p_value == fisher.p_value


def test_the_normal_approximation_and_its_tie_correction():
    # n = 15, W+ = 96: mean 60, variance 15·16·31/24 = 310, z = 36/√310.
    approx = wilcoxon_signed_rank(FISHER, exact_max=0)
    assert approx.method == "normal"
    assert approx.p_value == pytest.approx(math.erfc(36 / math.sqrt(310) / math.sqrt(2)))
    assert approx.p_value == pytest.approx(0.04089, abs=1e-4)
    # Zeros dropped; |1| ×3 share rank 2, |2| ×3 rank 5, |3| rank 7: W+ = 26, mean 14,
    # variance 7·8·15/24 - (24 + 24)/48 = 34.
    tied = wilcoxon_signed_rank([1, 1, -1, 2, 2, 2, 3, 0, 0])
    assert tied.n == 7 and tied.statistic == 26 and tied.method == "normal"
    assert tied.p_value == pytest.approx(math.erfc(12 / math.sqrt(34) / math.sqrt(2)))


def test_no_difference_is_no_evidence():
    assert wilcoxon_signed_rank([0.0, 0.0]).p_value == 1.0
    assert wilcoxon_signed_rank([]).p_value == 1.0


def _scores(similarities: list[float]) -> list[HoleScore]:
    return [HoleScore(s == 1.0, s, s > 0, True) for s in similarities]


def test_compare_holes_pairs_the_scores_hole_by_hole():
    before = _scores([0.2, 0.5, 1.0, 0.0] * 30)
    after = _scores([0.6, 0.5, 1.0, 1.0] * 30)  # two of four holes better, none worse
    changes = compare_holes(before, after)
    es, exact = changes["edit_similarity"], changes["exact"]
    assert es.difference == pytest.approx((0.4 + 1.0) / 4)
    assert es.better == 60 and es.worse == 0 and es.test == "wilcoxon"
    assert es.p_value < 1e-10
    low, high = es.difference_interval
    assert 0 < low <= es.difference <= high
    assert exact.better == 30 and exact.worse == 0 and exact.test == "mcnemar"
    assert exact.p_value == pytest.approx(2 * 0.5**30)
    assert changes["valid_nonempty"].difference == pytest.approx(0.25)
    assert "+35.00 pts" in es.line("held-out files, edit similarity")


def test_mean_interval_covers_the_mean_and_narrows_with_more_holes():
    few = mean_interval([0.0, 1.0] * 10)
    many = mean_interval([0.0, 1.0] * 1000)
    assert few[0] < 0.5 < few[1] and many[1] - many[0] < few[1] - few[0]
    with pytest.raises(ValueError):
        compare_holes(_scores([0.5]), _scores([0.5, 0.4]))


def test_yes_no_scores_get_intervals_inside_zero_and_one():
    rare = compare_holes(_scores([0.5] * 299 + [1.0]), _scores([0.5] * 300))["exact"]
    assert 0.0 <= rare.before_interval[0] < rare.before < rare.before_interval[1] <= 1.0
    assert rare.after_interval[0] == 0.0 and rare.after == 0.0
