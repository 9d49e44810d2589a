"""Retries, Retry-After, breaker, rate limit and timeouts, against the real test server."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from evolution.clients import (
    AuthenticationError,
    BadRequest,
    CircuitOpen,
    EndpointUnreachable,
    MalformedResponse,
    OpenAIClient,
    RateLimited,
    RequestTimeout,
    ServerError,
)
from evolution.testserver import Fault

MODELS = "/v1/models"


def _paths(server) -> list[str]:
    return [r.path for r in server.requests]


@pytest.mark.parametrize(
    "fault",
    [
        Fault.http_error(500),
        Fault.http_error(502),
        Fault.http_error(503),
        Fault.http_error(408),
        Fault.http_error(409),
        Fault.http_error(429),
        Fault.of("drop"),
    ],
    ids=["500", "502", "503", "408", "409", "429", "drop"],
)
async def test_retryable_faults_are_retried_with_backoff(test_server, config_for, sleeps, fault):
    test_server.inject(
        fault, Fault.http_error(fault.status, count=1) if fault.kind != "drop" else Fault.of("drop")
    )
    async with OpenAIClient(config_for(), sleep=sleeps) as client:
        assert await client.models() == ["test-model"]
    assert _paths(test_server) == [MODELS] * 3
    assert len(sleeps.delays) == 2 and all(0 <= d <= 0.002 * 2 for d in sleeps.delays)


async def test_slow_answers_time_out_and_are_retried(test_server, config_for, sleeps) -> None:
    test_server.inject(Fault.slow(3.0))
    async with OpenAIClient(config_for(timeout_s=0.2), sleep=sleeps) as client:
        assert await client.models() == ["test-model"]
    assert len(test_server.requests) == 2 and len(sleeps.delays) == 1


async def test_timeouts_that_persist_end_in_request_timeout(test_server, config_for, sleeps):
    test_server.inject(Fault.slow(3.0, count=2))
    async with OpenAIClient(config_for(timeout_s=0.2, max_retries=1), sleep=sleeps) as client:
        with pytest.raises(RequestTimeout) as caught:
            await client.models()
    assert caught.value.attempts == 2
    assert "no answer within 0.2 s" in str(caught.value) and "raise the timeout" in str(
        caught.value
    )


async def test_retries_give_up_after_max_retries(test_server, config_for, sleeps) -> None:
    test_server.inject(Fault.http_error(503, count=10))
    async with OpenAIClient(config_for(max_retries=3), sleep=sleeps) as client:
        with pytest.raises(ServerError) as caught:
            await client.models()
    assert caught.value.status == 503 and caught.value.attempts == 4
    assert len(test_server.requests) == 4 and len(sleeps.delays) == 3
    assert str(caught.value).startswith(f"{test_server.base_url}/models: HTTP 503")


async def test_retry_after_seconds_is_honoured_exactly(test_server, config_for, sleeps) -> None:
    test_server.inject(Fault.http_error(429, retry_after=2), Fault.http_error(503, retry_after=1))
    async with OpenAIClient(config_for(), sleep=sleeps) as client:
        await client.models()
    assert sleeps.delays == [2.0, 1.0]


async def test_retry_after_http_date_is_honoured(test_server, config_for, sleeps) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    test_server.inject(Fault.http_error(429, retry_after=when))
    async with OpenAIClient(config_for(), sleep=sleeps) as client:
        await client.models()
    [delay] = sleeps.delays
    assert 25 <= delay <= 30


async def test_retry_after_beyond_the_cap_fails_at_once(test_server, config_for, sleeps) -> None:
    test_server.inject(Fault.http_error(429, retry_after=3600))
    async with OpenAIClient(config_for(retry_after_max_s=60), sleep=sleeps) as client:
        with pytest.raises(RateLimited) as caught:
            await client.models()
    assert caught.value.retry_after == 3600 and sleeps.delays == []
    assert "lower the concurrency" in str(caught.value)


async def test_401_fails_at_once_with_a_clear_message_and_no_retry(
    test_server, config_for, sleeps, monkeypatch
) -> None:
    monkeypatch.setenv("EVOSELFCODE_GENERATOR_API_KEY", "sk-wrong-key")
    test_server.inject(Fault.http_error(401, count=100))
    config = config_for(api_key_env="EVOSELFCODE_GENERATOR_API_KEY")
    async with OpenAIClient(config, sleep=sleeps) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.chat("hello")
    assert len(test_server.requests) == 1 and sleeps.delays == []
    message = str(caught.value)
    assert "HTTP 401" in message and "$EVOSELFCODE_GENERATOR_API_KEY was rejected" in message
    assert "sk-wrong-key" not in message


async def test_missing_key_is_named_in_the_401_message(test_server, config_for, monkeypatch):
    monkeypatch.delenv("EVOSELFCODE_VERIFIER_API_KEY", raising=False)
    test_server.inject(Fault.http_error(403))
    config = config_for(name="verifier", api_key_env="EVOSELFCODE_VERIFIER_API_KEY")
    async with OpenAIClient(config) as client:
        with pytest.raises(
            AuthenticationError, match=r"no API key was sent: set \$EVOSELFCODE_VERIFIER"
        ):
            await client.chat("hello")


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_client_errors_are_not_retried(test_server, config_for, sleeps, status) -> None:
    test_server.inject(Fault.http_error(status, count=5))
    async with OpenAIClient(config_for(), sleep=sleeps) as client:
        with pytest.raises(BadRequest) as caught:
            await client.chat("hello")
    assert caught.value.status == status and len(test_server.requests) == 1


async def test_a_real_400_carries_the_servers_message(test_server, config_for) -> None:
    async with OpenAIClient(config_for()) as client:
        with pytest.raises(BadRequest, match="n must be an integer"):
            await client.chat("hello", extra={"n": 0})


async def test_unreachable_endpoint_gives_endpoint_unreachable_quickly(sleeps) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from evolution.clients import ClientConfig

    config = ClientConfig(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", name="generator", max_retries=2
    )
    async with OpenAIClient(config, sleep=sleeps) as client:
        with pytest.raises(EndpointUnreachable) as caught:
            await client.chat("hello")
    assert caught.value.attempts == 3 and len(sleeps.delays) == 2
    assert f"127.0.0.1:{port}" in str(caught.value) and "server is running" in str(caught.value)


async def test_malformed_json_is_not_retried(test_server, config_for, sleeps) -> None:
    test_server.inject(Fault.of("malformed", count=3))
    async with OpenAIClient(config_for(), sleep=sleeps) as client:
        with pytest.raises(MalformedResponse, match="not JSON"):
            await client.chat("hello")
    assert len(test_server.requests) == 1


async def test_json_of_the_wrong_shape_is_malformed(test_server, config_for) -> None:
    test_server.inject(Fault.http_error(200, body='{"result": "hi"}'))
    async with OpenAIClient(config_for()) as client:
        with pytest.raises(MalformedResponse, match=r"no 'choices' list .*\['result'\]"):
            await client.chat("hello")


async def test_breaker_opens_and_recovers_after_reset(test_server, config_for, sleeps) -> None:
    clock_now = [0.0]
    config = config_for(max_retries=0, breaker_failures=3, breaker_reset_s=30)
    test_server.inject(Fault.http_error(503, count=3))
    async with OpenAIClient(config, sleep=sleeps, clock=lambda: clock_now[0]) as client:
        for _ in range(3):
            with pytest.raises(ServerError):
                await client.models()
        with pytest.raises(CircuitOpen, match=r"failed 3 times in a row; next try in 30\.0 s"):
            await client.models()
        assert len(test_server.requests) == 3  # the open circuit sent nothing
        clock_now[0] += 30
        assert await client.models() == ["test-model"]  # the probe succeeds and closes it
        assert client.transport.breaker.state == "closed"
        assert await client.models() == ["test-model"]


async def test_client_errors_do_not_open_the_breaker(test_server, config_for) -> None:
    test_server.inject(Fault.http_error(400, count=10))
    async with OpenAIClient(config_for(breaker_failures=2)) as client:
        for _ in range(4):
            with pytest.raises(BadRequest):
                await client.models()
        assert client.transport.breaker.state == "closed"


async def test_deadline_stops_retrying(test_server, config_for) -> None:
    test_server.inject(Fault.http_error(503, retry_after=0.3, count=10))
    async with OpenAIClient(config_for(max_retries=10, deadline_s=0.5)) as client:
        with pytest.raises(ServerError) as caught:
            await client.models()
    assert caught.value.attempts == 2  # the third attempt would start after the deadline


async def test_rate_limit_spaces_requests_at_the_server(test_server, config_for) -> None:
    import asyncio

    async with OpenAIClient(config_for(rate_limit_per_s=40, rate_limit_burst=1)) as client:
        await asyncio.gather(*(client.models() for _ in range(17)))
    arrivals = sorted(r.received_at for r in test_server.requests)
    # 16 sends at least 1/40 s apart take 0.4 s; the margin absorbs how late the first one
    # may arrive (a new connection), while an unlimited client sends all 17 within a few ms
    assert arrivals[-1] - arrivals[0] >= 16 / 40 * 0.75
