"""A circuit breaker: stop calling an endpoint that keeps failing, then probe it again.

closed ──(``failure_threshold`` consecutive failures)──▶ open ──(``reset_s`` later)──▶
half-open: one probe request goes through; its success closes the circuit, its failure opens
it for another ``reset_s``. Only outages count as failures (no connection, timeouts, 5xx); an
answer such as 400 or 401 shows the server is up.

Not thread-safe: one breaker belongs to one client on one event loop (no awaits inside).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_s:
            return "half_open"
        return "open"

    def seconds_until_probe(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(self._opened_at + self.reset_s - self._clock(), 0.0)

    def allow(self) -> bool:
        """Whether a request may go out now (in half-open, only the one probe)."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """End a probe that proved nothing (cancelled, or rate limited): let another probe."""
        self._probing = False
