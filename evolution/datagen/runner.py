"""Running work items with at most ``concurrency`` requests in flight, writing as they finish.

Failures after the client's own retries are counted per kind (``ServerError``,
``RateLimited``, ...) and the item is left for the next run. The run stops early, keeping what
it wrote, when retrying cannot help: the endpoint is unreachable, the key or the request is
refused, the disk is full, or ``max_consecutive_errors`` items failed in a row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from evolution.clients.errors import (
    AuthenticationError,
    BadRequest,
    ClientConfigError,
    ClientError,
    EndpointUnreachable,
    LogprobsUnsupported,
)
from evolution.datagen.errors import OutputError

logger = logging.getLogger(__name__)

# No retry of the same request can succeed after these.
FATAL_ERRORS = (
    AuthenticationError,
    BadRequest,
    ClientConfigError,
    EndpointUnreachable,
    LogprobsUnsupported,
)


class GroupWriter(Protocol):
    def write_group(self, records: list[dict[str, Any]]) -> None: ...


class HasId(Protocol):
    @property
    def id(self) -> str: ...


@dataclass
class RunStats:
    """What one phase of a run did."""

    phase: str
    planned: int = 0  # items of this shard
    skipped: int = 0  # finished by an earlier run
    done: int = 0  # finished now
    records: int = 0  # lines written now
    failed: int = 0  # items that failed now (left for the next run)
    errors: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None
    stopped: str | None = None  # why the run stopped early, when it did
    duration_s: float = 0.0

    @property
    def remaining(self) -> int:
        return self.planned - self.skipped - self.done

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "planned": self.planned,
            "skipped": self.skipped,
            "done": self.done,
            "records": self.records,
            "failed": self.failed,
            "remaining": self.remaining,
            "errors": dict(self.errors),
            "last_error": self.last_error,
            "stopped": self.stopped,
            "duration_s": round(self.duration_s, 3),
        }


Fetch = Callable[[Any], Awaitable[list[dict[str, Any]]]]
OnItem = Callable[[RunStats, str, str | None], None]


async def run_items(
    items: Sequence[HasId],
    fetch: Fetch,
    writer: GroupWriter,
    stats: RunStats,
    *,
    concurrency: int,
    max_consecutive_errors: int,
    on_item: OnItem | None = None,
    stop: asyncio.Event | None = None,
) -> RunStats:
    """Fetch and write every item; ``stats`` is filled in and returned.

    ``on_item(stats, item_id, error)`` is called after each item (for progress). Setting
    ``stop`` (e.g. from a signal handler) ends the run after the requests in flight are
    cancelled; what was written stays.
    """
    started = time.monotonic()
    pending = iter(items)
    stop = stop or asyncio.Event()
    consecutive = 0
    tasks: list[asyncio.Task[None]] = []

    def halt(reason: str) -> None:
        if stats.stopped is None:
            stats.stopped = reason
        stop.set()
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()

    async def worker() -> None:
        nonlocal consecutive
        for item in pending:
            if stop.is_set():
                return
            try:
                records = await fetch(item)
            except ClientError as exc:
                stats.failed += 1
                stats.errors[type(exc).__name__] += 1
                stats.last_error = str(exc)
                logger.warning("%s failed: %s", item.id, exc)
                consecutive += 1
                if isinstance(exc, FATAL_ERRORS):
                    halt(str(exc))
                elif consecutive >= max_consecutive_errors:
                    halt(f"{consecutive} requests failed in a row; the last: {exc}")
                if on_item is not None:
                    on_item(stats, item.id, type(exc).__name__)
                continue
            try:
                writer.write_group(records)
            except OutputError as exc:
                stats.last_error = str(exc)
                halt(str(exc))
                return
            consecutive = 0
            stats.done += 1
            stats.records += len(records)
            if on_item is not None:
                on_item(stats, item.id, None)

    async def watch_stop() -> None:
        await stop.wait()
        halt(stats.stopped or "interrupted")

    tasks.extend(
        asyncio.ensure_future(worker()) for _ in range(max(1, min(concurrency, len(items))))
    )
    watcher = asyncio.ensure_future(watch_stop())
    try:
        await asyncio.gather(*tasks, return_exceptions=False)
    except asyncio.CancelledError:
        if not stop.is_set():
            raise  # cancelled from outside, not by halt()
    finally:
        watcher.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, watcher, return_exceptions=True)
        stats.duration_s += time.monotonic() - started
    return stats
