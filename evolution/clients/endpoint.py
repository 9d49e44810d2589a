"""``EndpointClient``: the same ``complete()`` for a non-OpenAI endpoint, through a field map.

    client = EndpointClient(
        ClientConfig(base_url="http://tgi:8080", name="generator"),
        {"prompt": "inputs", "max_tokens": "parameters.max_new_tokens", "text": "generated_text"},
        route="/generate",
    )
    [choice] = await client.complete("def add(a, b):", max_tokens=64)

The field map format is in ``fieldmap``. When the map has no ``n``, several choices are asked
for with one request each, concurrently; retries, breaker, rate limit and the n/stop repairs
are the same as ``OpenAIClient``'s.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evolution.clients.choice import Choice
from evolution.clients.config import ClientConfig
from evolution.clients.fieldmap import FieldMap, deep_merge
from evolution.clients.session import TransportClient

if TYPE_CHECKING:
    import httpx


class EndpointClient(TransportClient):
    """An async client for one custom completion endpoint; use ``async with`` to close it."""

    def __init__(
        self,
        config: ClientConfig,
        field_map: FieldMap | Mapping[str, str] | None = None,
        *,
        route: str = "/generate",
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, http, sleep=sleep, clock=clock, rng=rng)
        self.field_map = FieldMap.of(field_map)
        self.route = route

    def __repr__(self) -> str:
        return f"EndpointClient({self.config.name} at {self.config.url(self.route)})"

    async def complete(
        self,
        prompt: str,
        *,
        model: str | None = None,
        max_tokens: int = 256,
        temperature: float | None = None,
        top_p: float | None = None,
        n: int = 1,
        stop: str | Sequence[str] | None = None,
        logprobs: bool | int | None = None,
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> list[Choice]:
        """Complete ``prompt``; ``extra`` is deep-merged into the request body."""
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        values: dict[str, Any] = {
            "prompt": prompt,
            "model": model or self.config.model or None,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "stop": stops or None,
            "logprobs": None if logprobs is None or logprobs is False else int(logprobs),
            "seed": seed,
        }
        url = self.config.url(self.route)

        async def one_request(count: int) -> list[Choice]:
            body = self.field_map.request_body({**values, "n": count})
            body = deep_merge(body, extra or {})
            return self.field_map.choices(
                url, await self.transport.request_json("POST", self.route, body)
            )

        async def fetch(count: int) -> list[Choice]:
            if count == 1 or self.field_map.maps("n"):
                return await one_request(count)
            results = await asyncio.gather(
                *(one_request(1) for _ in range(count)), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            return [c for result in results if isinstance(result, list) for c in result]

        choices = await self._repairs.fill(url, await fetch(n), n, fetch)
        return self._repairs.stop(choices, stops)
