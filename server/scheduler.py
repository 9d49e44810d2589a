"""The model thread: one worker that runs everything touching the completion model, in order.

Completion jobs serve the newest request: submitting one drops every completion still
waiting (they resolve as superseded) and cancels the running one when it is for the same
document; its ``CancelToken`` is checked before every token, so it stops within one token.
Prefetches (the suggestion that follows accepting the one shown) are the lowest priority:
any new completion drops or cancels them, whatever its document, and a newer prefetch drops
an older one still waiting.
Tasks (loading the model, swapping adapters) run in order and are never dropped; running
them on the same thread means nothing ever generates while the model changes under it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from models.types import CancelToken
from server.reasons import EmptyReason

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobDropped(Exception):
    """A job ended without running to completion; ``reason`` says why."""

    def __init__(self, reason: EmptyReason):
        super().__init__(str(reason))
        self.reason = reason


@dataclass(eq=False)
class Job(Generic[T]):
    """A unit of work for the model thread; ``future`` resolves with its result."""

    run: Callable[[CancelToken], T]
    uri: str | None  # the document of a completion job; None for tasks
    droppable: bool  # completion jobs may be superseded; tasks may not
    prefetch: bool = False  # background work nobody waits for: any completion supersedes it
    token: CancelToken = field(default_factory=CancelToken)
    future: Future[T] = field(default_factory=Future)
    reason: EmptyReason | None = None  # why it was cancelled, when it was

    def cancel(self, reason: EmptyReason) -> None:
        """Stop the job: before it starts it never runs; while running it stops at a token."""
        if self.reason is None:
            self.reason = reason
        self.token.cancel()


class ModelWorker:
    """A single daemon thread serving jobs (see the module docstring for the policy)."""

    def __init__(self, name: str = "model"):
        self._pending: deque[Job[Any]] = deque()
        self._running: Job[Any] | None = None
        self._lock = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit_completion(self, uri: str, run: Callable[[CancelToken], T]) -> Job[T]:
        job: Job[T] = Job(run=run, uri=uri, droppable=True)
        with self._lock:
            for waiting in [j for j in self._pending if j.droppable]:
                self._pending.remove(waiting)
                waiting.cancel(EmptyReason.SUPERSEDED)
                _resolve_dropped(waiting)
            running = self._running
            if running is not None and (
                running.prefetch or (running.droppable and running.uri == uri)
            ):
                running.cancel(EmptyReason.SUPERSEDED)
            self._enqueue(job)
        return job

    def submit_prefetch(self, uri: str, run: Callable[[CancelToken], T]) -> Job[T]:
        """A completion nobody waits for yet; it runs after everything already submitted."""
        job: Job[T] = Job(run=run, uri=uri, droppable=True, prefetch=True)
        with self._lock:
            for waiting in [j for j in self._pending if j.prefetch]:
                self._pending.remove(waiting)
                waiting.cancel(EmptyReason.SUPERSEDED)
                _resolve_dropped(waiting)
            self._enqueue(job)
        return job

    def submit_task(self, run: Callable[[CancelToken], T]) -> Job[T]:
        job: Job[T] = Job(run=run, uri=None, droppable=False)
        with self._lock:
            self._enqueue(job)
        return job

    def cancel_completions(self, reason: EmptyReason) -> None:
        """Cancel every waiting and running completion (e.g. before the model reloads)."""
        with self._lock:
            for job in [j for j in self._pending if j.droppable]:
                self._pending.remove(job)
                job.cancel(reason)
                _resolve_dropped(job)
            if self._running is not None and self._running.droppable:
                self._running.cancel(reason)

    def stop(self) -> None:
        """Cancel everything and let the thread end (it is a daemon: exit never waits)."""
        with self._lock:
            self._stopped = True
            for job in self._pending:
                job.cancel(EmptyReason.CANCELLED)
                _resolve_dropped(job)
            self._pending.clear()
            if self._running is not None:
                self._running.cancel(EmptyReason.CANCELLED)
            self._lock.notify_all()

    def _enqueue(self, job: Job[Any]) -> None:
        if self._stopped:
            job.cancel(EmptyReason.CANCELLED)
            _resolve_dropped(job)
            return
        self._pending.append(job)
        self._lock.notify()

    def _next(self) -> Job[Any] | None:
        with self._lock:
            while not self._pending and not self._stopped:
                self._lock.wait()
            if self._stopped:
                return None
            self._running = self._pending.popleft()
            return self._running

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            try:
                if job.token.cancelled:
                    _resolve_dropped(job)
                elif job.future.set_running_or_notify_cancel():
                    job.future.set_result(job.run(job.token))
            except BaseException as exc:  # the thread must survive any one job
                if not job.future.done():
                    job.future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            finally:
                with self._lock:
                    self._running = None


def _resolve_dropped(job: Job[Any]) -> None:
    if not job.future.done():
        job.future.set_exception(JobDropped(job.reason or EmptyReason.CANCELLED))
