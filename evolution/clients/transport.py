"""The shared resilience layer: one httpx.AsyncClient, retries, breaker, rate limit, error mapping.

Every request of every client goes through ``Transport``: it takes a token from the rate
limiter, checks the circuit breaker, sends with the configured timeouts and at most
``max_concurrency`` in flight, turns failures into the ``errors`` tree, and retries the
retryable ones with backoff (honouring Retry-After) until ``max_retries`` or ``deadline_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from evolution.clients.breaker import CircuitBreaker
from evolution.clients.config import ClientConfig
from evolution.clients.errors import (
    AuthenticationError,
    BadRequest,
    CircuitOpen,
    ClientError,
    EndpointUnreachable,
    MalformedResponse,
    RateLimited,
    RequestTimeout,
    ServerError,
)
from evolution.clients.ratelimit import TokenBucket
from evolution.clients.retry import RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

T = TypeVar("T")
USER_AGENT = "evoselfcode-clients/0.1"
_OUTAGES = (EndpointUnreachable, RequestTimeout, ServerError)


class Transport:
    """Resilient JSON and server-sent-event requests to one endpoint (one event loop)."""

    def __init__(
        self,
        config: ClientConfig,
        http: httpx.AsyncClient | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        import httpx

        self.config = config
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=config.max_concurrency,
                max_keepalive_connections=config.max_concurrency,
            ),
        )
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self.retry = RetryPolicy(
            config.max_retries,
            config.backoff_base_s,
            config.backoff_max_s,
            config.retry_after_max_s,
        )
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_reset_s, clock=clock)
        self._bucket = (
            TokenBucket(config.rate_limit_per_s, config.rate_limit_burst, clock=clock, sleep=sleep)
            if config.rate_limit_per_s
            else None
        )
        self._slots = asyncio.Semaphore(config.max_concurrency)
        key = config.resolved_api_key()
        self._key = key.reveal() if key else None
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        for name, value in config.headers.items():
            self._headers[name] = value if isinstance(value, str) else value.reveal()
        if self._key:
            self._headers["Authorization"] = f"Bearer {self._key}"

    async def aclose(self) -> None:
        """Close the httpx client if this transport made it (an injected one is the caller's)."""
        if self._owns_http:
            await self._http.aclose()

    # --- public requests ---

    async def request_json(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request (retried as configured) and return the decoded JSON answer."""
        url = self.config.url(path)

        async def attempt() -> Any:
            async with self._slots:
                response = await self._http.request(method, url, json=body, headers=self._headers)
            self._raise_for_status(url, response)
            try:
                return response.json()
            except ValueError as exc:
                raise MalformedResponse(
                    url, f"the answer is not JSON: {_snippet(response.text)}"
                ) from exc

        return await self._with_retries(url, attempt)

    async def stream_events(self, path: str, body: Any) -> AsyncIterator[Any]:
        """POST and yield each server-sent event's JSON until ``[DONE]``.

        Opening the stream is retried like any request; once events have arrived, a failure
        is raised as it is (the caller has already seen part of the answer).
        """
        url = self.config.url(path)

        async def attempt() -> httpx.Response:
            request = self._http.build_request("POST", url, json=body, headers=self._headers)
            response = await self._http.send(request, stream=True)
            if not response.is_success:
                await response.aread()
                await response.aclose()
                self._raise_for_status(url, response)
            return response

        async with self._slots:
            response = await self._with_retries(url, attempt)
            try:
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # comments, event names, keep-alive blank lines
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        event = json.loads(data)
                    except ValueError as exc:
                        raise MalformedResponse(
                            url, f"a stream event is not JSON: {_snippet(data)}"
                        ) from exc
                    if isinstance(event, dict) and "error" in event:
                        raise ServerError(url, f"the stream ended with an error: {_snippet(data)}")
                    yield event
            except Exception as exc:
                mapped = self._map_transport_error(url, exc)
                if mapped is None:
                    raise
                raise mapped from exc
            finally:
                await response.aclose()

    # --- the retry loop ---

    async def _with_retries(self, url: str, attempt: Callable[[], Awaitable[T]]) -> T:
        started = self._clock()
        last_error: ClientError | None = None
        for number in range(self.retry.max_retries + 1):
            if not self.breaker.allow():
                error = CircuitOpen(
                    url,
                    f"{self.config.name} failed {self.breaker.failure_threshold} times in a row; "
                    f"next try in {self.breaker.seconds_until_probe():.1f} s",
                )
                error.attempts = number or 1
                raise error from last_error
            if self._bucket is not None:
                await self._bucket.acquire()
            try:
                result = await attempt()
            except asyncio.CancelledError:
                self.breaker.release()
                raise
            except Exception as exc:
                error = exc if isinstance(exc, ClientError) else self._map_transport_error(url, exc)
                if error is None:
                    self.breaker.release()
                    raise
                if error is not exc:
                    error.__cause__ = exc  # keep httpx's exception for the traceback
                last_error = error
            else:
                self.breaker.record_success()
                return result
            self._record(error)
            delay = self.retry.delay(error, number, self._rng)
            deadline = self.config.deadline_s
            if (
                delay is not None
                and deadline is not None
                and (self._clock() - started + delay > deadline)
            ):
                delay = None  # the next attempt would start past the deadline
            if delay is None:
                error.attempts = number + 1
                raise error
            logger.warning(
                "%s: %s; retrying in %.2f s (attempt %d of %d)",
                self.config.name,
                error.detail,
                delay,
                number + 2,
                self.retry.max_retries + 1,
            )
            await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _record(self, error: ClientError) -> None:
        if isinstance(error, _OUTAGES):
            self.breaker.record_failure()
        elif isinstance(error, RateLimited):
            self.breaker.release()  # busy is not down
        else:
            self.breaker.record_success()  # it answered, so it is up

    # --- error mapping ---

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _map_transport_error(self, url: str, exc: BaseException) -> ClientError | None:
        import httpx

        detail = self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return EndpointUnreachable(url, f"cannot connect ({detail})")
        if isinstance(exc, httpx.TimeoutException):
            return RequestTimeout(url, f"no answer within {self.config.timeout_s:g} s ({detail})")
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            return ServerError(url, f"the connection closed before a full answer ({detail})")
        if isinstance(exc, httpx.DecodingError):
            return MalformedResponse(url, f"the answer could not be decoded ({detail})")
        if isinstance(exc, httpx.HTTPError):
            return EndpointUnreachable(url, detail)
        return None

    def _raise_for_status(self, url: str, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = self._scrub(f"HTTP {status}: {_server_message(response).rstrip('.')}")
        retry_after = parse_retry_after(response.headers)
        if status in (401, 403):
            raise AuthenticationError(url, f"{detail}; {self.config.key_source()}", status=status)
        if status == 429:
            raise RateLimited(url, detail, status=status, retry_after=retry_after)
        if status == 408:
            raise RequestTimeout(url, detail, status=status, retry_after=retry_after)
        if status == 409 or status >= 500:
            raise ServerError(url, detail, status=status, retry_after=retry_after)
        raise BadRequest(url, detail, status=status)


def _server_message(response: httpx.Response) -> str:
    """The server's own error message when it sent one in OpenAI's shape, else the body."""
    try:
        data = response.json()
    except ValueError:
        return _snippet(response.text) or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return _snippet(error["message"])
        if isinstance(error, str):
            return _snippet(error)
        if isinstance(data.get("detail"), str):  # FastAPI-style servers
            return _snippet(data["detail"])
    return _snippet(response.text)


def _snippet(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
