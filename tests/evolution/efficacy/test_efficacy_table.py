"""The efficacy loop's table and result come from its evaluations, paired by task."""

from __future__ import annotations

import pytest

from evaluation.taskfamily import build_family
from evolution.efficacy import QUICK, Outcome, render_table, result_json, summary_sentence
from evolution.efficacy.loop import Scored, StoreContents
from evolution.testserver.standin import FaultRates, build_standin


def _scored(name: str, passing: set[int], n: int = 20) -> Scored:
    return Scored(name, {f"t{i}": i in passing for i in range(n)}, {})


@pytest.fixture(scope="module")
def outcome() -> Outcome:
    standin = build_standin(build_family().train[:12], FaultRates(), seed=0)
    scores = {
        "base": _scored("base", {0}),
        "a": _scored("a", {0, 1, 2}),
        "b": _scored("b", {0, 1, 2, 3}),
        "c": _scored("c", set(range(10))),  # nine tasks gained, none lost
    }
    stores = {label: StoreContents(10, 7, {"rejectedBy": {"syntax": 1}}) for label in "abc"}
    infill = {"base": _scored("base", {0, 1}), "c": _scored("c", {0})}
    return Outcome(standin, QUICK, stores, scores, infill)


def test_the_result_pairs_the_arms_by_task(outcome: Outcome):
    result = result_json(outcome)
    assert result["ratio"] == pytest.approx(45.0)  # 10/20 - 1/20
    assert result["p_vs_base"] == pytest.approx(2 / 2**9)  # exact McNemar, 9 discordant, 0 lost
    assert result["p_vs_ungated"] == pytest.approx(2 / 2**7)
    assert result["infill_change_points"] == pytest.approx(-5.0)
    assert result["train_instructions"] == 12 and result["heldout_tasks"] == 20


def test_the_table_and_the_sentence_say_the_same_counts(outcome: Outcome):
    table = "\n".join(render_table(outcome))
    assert "(c) all gates" in table and "50.0% (10/20)" in table
    assert "c vs base: +45.0 points; 9 tasks only c passes, 0 only base" in table
    assert "HumanEval-infill" in table and "-5.0 points" in table
    sentence = summary_sentence(outcome)
    assert "base model 1/20" in sentence and "all-gates pairs 10/20" in sentence
    assert "ungated pairs 3/20" in sentence
