"""The status board: counts, percentiles and the notification's shape."""

from __future__ import annotations

from evaluation.sandbox import Isolation
from server.reasons import EmptyReason
from server.status import ModelDescription, StatusBoard, percentile, sandbox_status


def test_percentiles():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.5
    assert 95 <= (percentile(values, 0.95) or 0) <= 96


def test_snapshot_has_the_documented_shape_and_counts():
    board = StatusBoard()
    board.set_model_state(
        "ready",
        ModelDescription("smoke", None, "cpu", "float32", "local", random_weights=True),
    )
    for latency in (10.0, 20.0, 30.0):
        board.record_request()
        board.record_served(latency, cached=latency == 10.0)
    board.record_request()
    board.record_empty(EmptyReason.FILTERED_SYNTAX)
    board.record_generation(prompt_tokens=100, cached_tokens=90)
    board.record_generation(prompt_tokens=50, cached_tokens=0, time_boxed=True)
    for event in ("started", "started", "stored", "used", "cancelled"):
        board.record_prefetch(event)
    status = board.snapshot()
    assert status["state"] == "ready" and "reason" not in status
    assert status["randomWeights"] is True and status["model"] == "smoke"
    assert status["completions"] == {
        "requests": 4,
        "served": 3,
        "empty": {"filtered:syntax": 1},
        "cacheHits": 1,
        "generated": 2,
        "meanPromptTokens": 75.0,
        "meanPrefilledTokens": 30.0,
        "timeBoxed": 1,
        "prefetch": {"started": 2, "stored": 1, "used": 1, "cancelled": 1},
    }
    assert status["latencyMs"] == {"p50": 20.0, "p95": 29.0}
    board.set_model_state("failed", ModelDescription("x"), "no such folder")
    assert board.snapshot()["reason"] == "no such folder"


def test_the_sandbox_shows_once_known_with_what_is_missing():
    board = StatusBoard()
    assert "sandbox" not in board.snapshot()
    refused = Isolation(False, False, False, None, seccomp=True, problems=("userns: disabled",))
    board.set_sandbox(sandbox_status(refused))
    assert board.snapshot()["sandbox"] == {
        "level": "partial",
        "description": refused.describe(),
        "problems": ["userns: disabled"],
    }
    board.set_sandbox(sandbox_status(None, "the sandbox needs Linux"))
    assert board.snapshot()["sandbox"]["level"] == "unavailable"
    assert board.snapshot()["sandbox"]["problems"] == ["the sandbox needs Linux"]


def test_rejected_messages_are_counted():
    board = StatusBoard()
    assert board.snapshot()["rejectedMessages"] == 0
    board.record_rejected()
    board.record_rejected()
    assert board.snapshot()["rejectedMessages"] == 2


def test_suggestion_outcomes_go_under_completions():
    board = StatusBoard()
    assert "outcomes" not in board.snapshot()["completions"]
    board.set_outcomes({"shown": 2, "acceptanceRate": 0.5})
    assert board.snapshot()["completions"]["outcomes"] == {"shown": 2, "acceptanceRate": 0.5}
