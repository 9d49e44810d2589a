"""What every HTTP client here shares: its config, one ``Transport`` and ``async with``."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from evolution.clients.config import ClientConfig
from evolution.clients.repair import Repairs
from evolution.clients.transport import Transport

if TYPE_CHECKING:
    import httpx

SessionT = TypeVar("SessionT", bound="TransportClient")


class TransportClient:
    """An async client for one endpoint; use ``async with`` (or ``aclose``) to close it.

    ``http`` may be an ``httpx.AsyncClient`` of the caller's (then the caller closes it).
    ``sleep``, ``clock`` and ``rng`` are there for tests of the retry timing.
    """

    def __init__(
        self,
        config: ClientConfig,
        http: httpx.AsyncClient | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.transport = Transport(config, http, sleep=sleep, clock=clock, rng=rng)
        self._repairs = Repairs(config)

    async def __aenter__(self: SessionT) -> SessionT:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()
