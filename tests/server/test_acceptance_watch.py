"""Live acceptance after a promotion (``server/outcomes/acceptance_watch.py``) and its test
(``fisher_exact_lower``): when a promoted adapter's suggestions are taken significantly less
often than its predecessor's, and only then, the watch calls for a rollback."""

from __future__ import annotations

import itertools

import pytest

from evolution.finetune.stats import fisher_exact_lower
from server.outcomes.acceptance_watch import ALPHA, LOOKS, MIN_BEFORE, AcceptanceWatch

ROOT = "file:///work/project"
IDS = (f"s{n}" for n in itertools.count())


def records(
    adapter: str | None, taken: int, left: int, *, uri: str = f"{ROOT}/a.py", model: str = "m"
) -> list[dict]:
    outcomes = ["accepted"] * taken + ["dismissed"] * left
    return [
        {"id": next(IDS), "uri": uri, "model": model, "adapter": adapter, "outcome": outcome}
        for outcome in outcomes
    ]


def feed(watch: AcceptanceWatch, taken: int, left: int, adapter: str = "new"):
    """Settle suggestions of ``adapter`` one by one; the first rollback asked for, or None."""
    verdict = None
    for outcome in ["accepted"] * taken + ["typed-over"] * left:
        verdict = verdict or watch.observe(next(IDS), f"{ROOT}/b.py", "m", adapter, outcome)
    return verdict


def test_fisher_matches_r_on_the_tea_tasting_table():
    # R: fisher.test(matrix(c(3, 1, 1, 3), 2), alternative = "greater")$p.value == 0.2429
    assert fisher_exact_lower(3, 4, 1, 4) == pytest.approx(0.242857, abs=1e-6)
    assert fisher_exact_lower(1, 4, 3, 4) == pytest.approx(69 / 70, abs=1e-9)
    assert fisher_exact_lower(0, 0, 0, 0) == 1.0
    # Thousands of suggestions do not overflow, and a clear drop is clearly significant.
    assert fisher_exact_lower(1500, 3000, 1200, 3000) < 1e-12
    with pytest.raises(ValueError):
        fisher_exact_lower(5, 4, 0, 1)


def test_the_predecessor_is_the_adapter_that_served_the_workspace_just_before():
    log = [
        *records("old", 30, 30),
        *records(None, 25, 25),  # the base model served after "old"
        *records(None, 9, 0, uri="file:///elsewhere/x.py"),  # another workspace
        *records(None, 9, 0, model="other"),  # another base model
        *records("new", 3, 1),  # from an earlier session
    ]
    watch = AcceptanceWatch.from_log(log, adapter="new", model="m", workspace_uri=ROOT)
    assert watch.previous is None and watch.before is not None
    assert (watch.before.shown, watch.before.hits) == (50, 25)
    assert (watch.now.shown, watch.now.hits) == (4, 3)
    assert watch.state == "watching"


def test_a_significant_drop_rolls_back_at_a_look_and_not_before():
    watch = AcceptanceWatch.from_log(
        records(None, 60, 60), adapter="new", model="m", workspace_uri=ROOT
    )
    assert feed(watch, 2, LOOKS[0] - 3) is None  # one short of the first look
    verdict = feed(watch, 0, 1)
    assert verdict is not None and watch.state == "rolled-back"
    assert watch.p_value is not None and watch.p_value < ALPHA
    assert "50% of 120 under the base model" in verdict.reason
    assert f"5% of {LOOKS[0]} under new" in verdict.reason
    assert watch.summary()["state"] == "rolled-back"


def test_an_adapter_as_good_is_kept_after_the_last_look():
    watch = AcceptanceWatch.from_log(
        records("old", 100, 100), adapter="new", model="m", workspace_uri=ROOT
    )
    assert watch.previous == "old"
    for _ in range(LOOKS[-1] // 2):
        assert feed(watch, 1, 1) is None
    assert watch.state == "kept" and watch.looks_done == len(LOOKS)
    assert watch.p_value is not None and watch.p_value > ALPHA


def test_a_corrected_outcome_replaces_the_first_and_other_adapters_do_not_count():
    watch = AcceptanceWatch.from_log(
        records(None, 50, 50), adapter="new", model="m", workspace_uri=ROOT
    )
    watch.observe("x", f"{ROOT}/c.py", "m", "new", "dismissed")
    watch.observe("x", f"{ROOT}/c.py", "m", "new", "accepted")  # the report came late
    watch.observe("y", f"{ROOT}/c.py", "m", "older", "dismissed")
    watch.observe("z", "file:///elsewhere/c.py", "m", "new", "dismissed")
    assert (watch.now.shown, watch.now.hits) == (1, 1)


def test_without_enough_earlier_suggestions_nothing_is_rolled_back():
    watch = AcceptanceWatch.from_log(
        records(None, MIN_BEFORE - 1, 0), adapter="new", model="m", workspace_uri=ROOT
    )
    assert watch.state == "no-baseline"
    assert feed(watch, 0, LOOKS[-1]) is None
    assert watch.summary()["rate"] == 0.0 and watch.summary()["previousShown"] == MIN_BEFORE - 1


def test_a_restart_takes_the_looks_its_log_has_passed():
    log = [*records(None, 60, 60), *records("new", 1, LOOKS[1])]
    watch = AcceptanceWatch.from_log(log, adapter="new", model="m", workspace_uri=ROOT)
    verdict = watch.catch_up()
    assert verdict is not None and watch.looks_done == 2
    # Watched to its last look in earlier sessions: kept, not looked at again on each restart.
    done = [*records(None, 60, 60), *records("new", 0, LOOKS[-1])]
    kept = AcceptanceWatch.from_log(done, adapter="new", model="m", workspace_uri=ROOT)
    assert kept.catch_up() is None and kept.state == "kept"
