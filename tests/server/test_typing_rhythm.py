"""The adaptive debounce: the wait follows the typing rhythm of each document."""

from __future__ import annotations

import pytest

from server.typing_rhythm import MAX_DOCUMENTS, TypingRhythm


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def typed(rhythm: TypingRhythm, clock: Clock, uri: str, gaps_s: list[float]) -> None:
    rhythm.keystroke(uri)
    for gap in gaps_s:
        clock.now += gap
        rhythm.keystroke(uri)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_until_the_rhythm_is_known_the_wait_is_the_setting(clock):
    rhythm = TypingRhythm(clock)
    assert rhythm.wait_ms("a.py", 75) == 75
    typed(rhythm, clock, "a.py", [0.06, 0.06])  # two gaps: not enough
    assert rhythm.wait_ms("a.py", 75) == 75


@pytest.mark.parametrize(
    ("gaps_s", "wait_ms"),
    [
        ([0.06, 0.07, 0.06, 0.08], 97.5),  # 1.5 x the median 65 ms
        ([0.04, 0.04, 0.04], 60.0),  # a fast typist: 1.5 x 40 ms
        ([0.09, 0.08, 0.09, 0.5], 135.0),  # 1.5 x the median 90 ms (one slow gap does not count)
        ([0.3, 0.3, 0.3], 150.0),  # a slow typist: at most 2 x 75 ms
        ([0.01, 0.01, 0.01], 30.0),  # key repeat: at least 0.4 x 75 ms
    ],
)
def test_the_wait_is_one_and_a_half_typical_gaps_within_bounds(clock, gaps_s, wait_ms):
    rhythm = TypingRhythm(clock)
    typed(rhythm, clock, "a.py", gaps_s)
    assert rhythm.wait_ms("a.py", 75) == pytest.approx(wait_ms)


def test_pauses_are_not_rhythm_and_documents_keep_their_own(clock):
    rhythm = TypingRhythm(clock)
    typed(rhythm, clock, "a.py", [0.04, 0.04, 0.04])
    typed(rhythm, clock, "b.py", [0.09, 0.09, 0.09])
    clock.now += 5.0  # a pause: the gap is not counted
    rhythm.keystroke("a.py")
    assert rhythm.wait_ms("a.py", 75) == pytest.approx(60.0)
    assert rhythm.wait_ms("b.py", 75) == pytest.approx(135.0)


def test_the_least_recently_typed_in_documents_are_forgotten(clock):
    rhythm = TypingRhythm(clock)
    typed(rhythm, clock, "first.py", [0.04, 0.04, 0.04])
    for n in range(MAX_DOCUMENTS):
        rhythm.keystroke(f"other-{n}.py")
    assert rhythm.wait_ms("first.py", 75) == 75  # forgotten: back to the setting
