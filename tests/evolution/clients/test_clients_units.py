"""The resilience parts on their own: backoff, Retry-After, breaker, token bucket, Secret."""

from __future__ import annotations

import asyncio
import itertools
import pickle
import random
from datetime import datetime, timezone

import pytest

from evolution.clients import RateLimited, Secret, ServerError
from evolution.clients.breaker import CircuitBreaker
from evolution.clients.errors import BadRequest
from evolution.clients.ratelimit import TokenBucket
from evolution.clients.retry import RetryPolicy, parse_retry_after


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(max_retries=10, backoff_base_s=0.5, backoff_max_s=4.0)
    rng = random.Random(1)
    for attempt, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (8, 4.0)]:
        draws = [policy.backoff(attempt, rng) for _ in range(300)]
        assert all(0.0 <= d <= cap for d in draws)
        assert max(draws) > 0.8 * cap and min(draws) < 0.2 * cap  # spread over the whole range


def test_delay_honours_retry_after_and_gives_up_when_it_is_too_long() -> None:
    policy = RetryPolicy(max_retries=3, retry_after_max_s=60)
    rng = random.Random(0)
    assert policy.delay(RateLimited("u", "x", retry_after=7.5), 0, rng) == 7.5
    assert policy.delay(RateLimited("u", "x", retry_after=600), 0, rng) is None
    assert policy.delay(ServerError("u", "x"), 3, rng) is None  # retries used up
    assert policy.delay(BadRequest("u", "x"), 0, rng) is None  # not retryable


def test_parse_retry_after_seconds_milliseconds_and_http_dates() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc)
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, now) == 30.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_breaker_opens_after_threshold_then_lets_one_probe_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_s=10, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 10
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one probe only
    breaker.record_failure()  # the probe failed: open again for another reset_s
    assert breaker.state == "open"
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_s=10, clock=FakeClock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


async def test_token_bucket_spaces_requests_at_its_rate_after_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=5.0, burst=2, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(7):
        await bucket.acquire()
        times.append(clock.now - 1000.0)
    assert times[:2] == [0.0, 0.0]  # the burst
    gaps = [b - a for a, b in itertools.pairwise(times[2:])]
    assert times[2] == pytest.approx(0.2) and all(g == pytest.approx(0.2) for g in gaps)


async def test_token_bucket_serves_concurrent_waiters_in_arrival_order() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=1, clock=clock, sleep=clock.sleep)
    order: list[int] = []

    async def take(i: int) -> None:
        await bucket.acquire()
        order.append(i)

    await asyncio.gather(*(take(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert clock.now - 1000.0 == pytest.approx(0.4)


def test_secret_never_shows_its_value() -> None:
    secret = Secret("sk-live-123")
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        "{}".format(secret),  # noqa: UP032
        "%s" % (secret,),  # noqa: UP031
        str([secret]),
    ]
    assert all("sk-live-123" not in s for s in shown)
    assert secret.reveal() == "sk-live-123"
    assert secret == Secret("sk-live-123") and secret != Secret("other")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
