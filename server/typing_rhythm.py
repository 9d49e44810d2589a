"""How fast the user is typing in each document: what the adaptive debounce waits for.

A generation that starts just before the next keystroke is wasted, and one that starts long
after the last keystroke keeps the user waiting. Like Tabby's debouncer, the wait follows the
user's rhythm: 1.5 times the median gap between the recent automatic requests of a document,
kept between 0.4 and 2 times ``completion.debounceMs`` (30-150 ms with the default 75, the
range suited to local inference). Gaps over a second are pauses, not rhythm, and are not
counted; until a document has a few gaps, the wait is ``debounceMs`` itself.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable

PAUSE_S = 1.0  # a longer gap is a pause in the typing
RECENT_GAPS = 8
MIN_GAPS = 3
FACTOR = 1.5
LOWEST, HIGHEST = 0.4, 2.0  # times the configured debounce
MAX_DOCUMENTS = 64  # the least recently typed-in are forgotten


class TypingRhythm:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}  # per document, most recently typed-in last
        self._gaps: dict[str, deque[float]] = {}

    def keystroke(self, uri: str) -> None:
        """An automatic completion request for ``uri`` arrived now."""
        now = self._clock()
        last = self._last.pop(uri, None)
        self._last[uri] = now
        if last is not None and now - last <= PAUSE_S:
            self._gaps.setdefault(uri, deque(maxlen=RECENT_GAPS)).append(now - last)
        if len(self._last) > MAX_DOCUMENTS:
            oldest = next(iter(self._last))
            del self._last[oldest]
            self._gaps.pop(oldest, None)

    def wait_ms(self, uri: str, debounce_ms: float) -> float:
        """How long to wait before generating for ``uri``, given the configured debounce."""
        gaps = self._gaps.get(uri, ())
        if len(gaps) < MIN_GAPS:
            return debounce_ms
        typical_ms = statistics.median(gaps) * 1000
        return min(max(FACTOR * typical_ms, LOWEST * debounce_ms), HIGHEST * debounce_ms)
