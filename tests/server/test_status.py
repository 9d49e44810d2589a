"""The status board: counts, percentiles and the notification's shape."""

from __future__ import annotations

from server.reasons import EmptyReason
from server.status import ModelDescription, StatusBoard, percentile


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
    board.record_generation(prompt_tokens=50, cached_tokens=0)
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
    }
    assert status["latencyMs"] == {"p50": 20.0, "p95": 29.0}
    board.set_model_state("failed", ModelDescription("x"), "no such folder")
    assert board.snapshot()["reason"] == "no such folder"
