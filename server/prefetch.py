"""Prefetch: the suggestion that follows accepting the one just shown, computed in the background.

As llama.vscode's ``cacheFutureSuggestion``: once a request is answered, the window it would
see after the user accepts the suggestion (the suggestion typed in, the replaced text gone)
is completed on the model thread at the lowest priority (``ModelWorker.submit_prefetch``:
any new request cancels it) and the result goes into the completion cache, so the request
that follows the acceptance, and typing on through the new suggestion, are cache hits. A
request for exactly that window while the prefetch still runs waits for it instead of
starting over. Prefetches are not time-boxed (nobody waits for them), and what they cost is
not in the request counts: the status counts them apart (``completions.prefetch``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from lsprotocol import types

from server.cache import CompletionCache, same_window
from server.context import InfillWindow
from server.generation import Produced, generate_suggestions
from server.model_host import ModelHost
from server.postprocess import Filtered, PostProcessor, Suggestion
from server.scheduler import Job, JobDropped, ModelWorker
from server.settings import CompletionSettings
from server.status import PrefetchEvent, StatusBoard

log = logging.getLogger(__name__)


def accepted_window(window: InfillWindow, suggestion: Suggestion) -> InfillWindow:
    """``window`` as it reads once ``suggestion`` is accepted, the cursor after it."""
    text = suggestion.text
    _, newline, last_line = text.rpartition("\n")
    line_prefix = last_line if newline else window.line_prefix + text
    return replace(
        window,
        prefix=window.prefix + text,
        suffix=window.suffix[suggestion.replace_after :],
        line_prefix=line_prefix,
        line_suffix=window.line_suffix[suggestion.replace_after :],
    )


@dataclass
class _InFlight:
    window: InfillWindow
    task: asyncio.Task[None]


class Prefetcher:
    def __init__(
        self,
        *,
        host: ModelHost,
        worker: ModelWorker,
        cache: CompletionCache,
        status: StatusBoard,
        on_stats: Callable[[], None],
    ):
        self.host = host
        self.worker = worker
        self.cache = cache
        self.status = status
        self._on_stats = on_stats
        self._in_flight: _InFlight | None = None  # the newest prefetch, while it runs
        self._tasks: set[asyncio.Task[None]] = set()  # a reference to each until it is done

    def schedule(
        self,
        window: InfillWindow,
        suggestion: Suggestion,
        settings: CompletionSettings,
        formatting: types.FormattingOptions | None,
    ) -> None:
        """Start computing the suggestion after ``suggestion`` is accepted, unless it is off,
        the model is not loaded, or the cache answers that window already."""
        model = self.host.model
        if not settings.prefetch or model is None:
            return
        future = accepted_window(window, suggestion)
        in_flight = self._in_flight
        if in_flight is not None and same_window(in_flight.window, future):
            return  # typing through a suggestion asks for the same prefetch again
        if self.cache.lookup(future, use=False) is not None:
            return
        processor = PostProcessor(future, formatting)
        run = partial(generate_suggestions, model, future, processor, settings, time_box=False)
        job = self.worker.submit_prefetch(future.uri, run)
        self.status.record_prefetch("started")
        task = asyncio.ensure_future(self._finish(future, job, settings))
        self._in_flight = _InFlight(future, task)
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    async def wait_for(self, window: InfillWindow) -> bool:
        """Wait for a running prefetch of exactly ``window``; false when there is none.
        Cancelling the waiter leaves the prefetch running."""
        in_flight = self._in_flight
        if in_flight is None or not same_window(in_flight.window, window):
            return False
        await asyncio.wait({in_flight.task})
        return True

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._in_flight is not None and self._in_flight.task is task:
            self._in_flight = None

    async def _finish(
        self, window: InfillWindow, job: Job[Produced], settings: CompletionSettings
    ) -> None:
        try:
            event = await self._store(window, job, settings)
        except JobDropped:
            event = "cancelled"
        except Exception:  # a failed prefetch costs nothing but its log line
            log.exception("prefetch failed for %s", window.uri)
            event = "cancelled"
        if event is not None:
            self.status.record_prefetch(event)
        self._on_stats()

    async def _store(
        self, window: InfillWindow, job: Job[Produced], settings: CompletionSettings
    ) -> PrefetchEvent | None:
        produced = await asyncio.wrap_future(job.future)
        if job.reason is not None:  # a request stopped it part-way
            return "cancelled"
        outcome = produced.outcome
        if isinstance(outcome, Filtered):
            if settings.temperature == 0:  # greedy: the request would get the same junk
                self.cache.put(window, outcome)
            log.debug("prefetch for %s gave nothing: %s", window.uri, outcome.detail)
            return None
        self.cache.put_all(window, outcome, prefetched=True)
        return "stored"
