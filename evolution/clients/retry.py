"""When to retry and how long to wait: exponential backoff with full jitter, and Retry-After."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from evolution.clients.errors import ClientError


@dataclass(frozen=True)
class RetryPolicy:
    """Retry retryable errors up to ``max_retries`` times (so ``max_retries + 1`` attempts)."""

    max_retries: int = 3
    backoff_base_s: float = 0.25
    backoff_max_s: float = 8.0
    retry_after_max_s: float = 60.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2**attempt)]."""
        return rng.uniform(0.0, min(self.backoff_max_s, self.backoff_base_s * 2**attempt))

    def delay(self, error: ClientError, attempt: int, rng: random.Random) -> float | None:
        """Seconds to wait before retrying after ``error`` on ``attempt`` (0-based); None: stop.

        A Retry-After the server sent is honoured as it is; one longer than
        ``retry_after_max_s`` ends the call at once rather than blocking for minutes.
        """
        if not error.retryable or attempt >= self.max_retries:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.retry_after_max_s:
                return None
            return max(error.retry_after, 0.0)
        return self.backoff(attempt, rng)


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP-date."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(float(milliseconds) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # unparseable: fall back to our own backoff
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)
