"""The host side of the sandbox: pre-started workers, each fed by its own driver thread.

Jobs wait in one queue. A driver keeps up to ``PIPELINE_DEPTH`` programs queued in its worker,
so that the worker starts the next sample the moment the last one ends instead of waiting for
the host to read its answer. Answers come back in order; a worker that dies or stops answering
is killed and replaced, the sample it was running gets ``crashed``/``timeout``, and the samples
queued behind it are sent to the replacement. Nothing waits forever.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

from evaluation.errors import SandboxError
from evaluation.sandbox.isolation import Isolation, platform_refusal
from evaluation.sandbox.mounts import PRIVATE_TMPFS, is_inside
from evaluation.sandbox.process import WorkerProcess
from evaluation.sandbox.protocol import ExecResult, Limits, Outcome, WorkerConfig

log = logging.getLogger(__name__)

PIPELINE_DEPTH = 2
# How long past a sample's own limit the host waits for its worker before replacing it.
ANSWER_GRACE_S = 10.0
Folder = str | os.PathLike[str]


@dataclass(eq=False)
class _Job:
    program: str
    timeout_s: float
    readable_paths: tuple[str, ...]
    future: Future[ExecResult] = field(default_factory=Future)
    delivered: bool = False


class Sandbox:
    """Runs untrusted Python programs in a pool of pre-started sandbox workers.

    ``run`` blocks until its program is done, ``submit`` returns a future, ``map`` runs many;
    all are thread-safe. Use it as a context manager, or call ``close()``: workers are
    processes. What is and is not isolated: ``evaluation/sandbox/__init__.py``; what this
    pool got: ``isolation`` (its ``warning()`` is what to tell the user when it is less than
    full). ``namespaces=False`` turns the kernel's isolation off (namespaces, Landlock,
    seccomp): the guard alone, for tests of that fallback.

    ``python_paths``: folders put first on every sample's ``sys.path``, and kept readable to
    the samples like the interpreter's own folders. Folders given to samples to read, here and
    in ``readable_paths``, must be absolute paths of existing folders, and neither a private
    temporary folder (/tmp, /var/tmp, /dev/shm) nor the pool's scratch folder, inside it or
    above it: ``ValueError`` otherwise (``readable_folder`` says why).
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        limits: Limits | None = None,
        namespaces: bool = True,
        python_paths: Iterable[Folder] = (),
    ) -> None:
        refusal = platform_refusal(sys.platform)
        if refusal is not None:
            raise SandboxError(refusal)
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._live_drivers = 0
        self._idle_drivers = 0  # drivers waiting for a job: they get it before anyone pipelines
        self._scratch = os.path.realpath(tempfile.mkdtemp(prefix="evoselfcode-sandbox-"))
        # Removed by close(), or at exit if nobody called it (the workers end with this process:
        # their requests reach end of input).
        self._remove_scratch = weakref.finalize(self, shutil.rmtree, self._scratch, True)
        try:
            self.config = WorkerConfig(
                limits=limits or Limits(),
                namespaces=namespaces,
                scratch=self._scratch,
                python_paths=tuple(self.readable_folder(path) for path in python_paths),
            )
            processes = WorkerProcess.start_many(workers, self.config)
        except BaseException:
            self._remove_scratch()
            raise
        self._isolation = processes[0].isolation
        self._drivers = [_Driver(self, process) for process in processes]
        self._live_drivers = len(self._drivers)
        for driver in self._drivers:
            driver.start()

    @property
    def isolation(self) -> Isolation:
        """What isolates the samples (the same for every worker of this pool)."""
        return self._isolation

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def readable_folder(self, path: Folder) -> str:
        """``path`` resolved, if samples may be given it to read; else ``ValueError`` (why)."""
        text = os.fspath(path)
        if not os.path.isabs(text):
            raise ValueError(f"a folder for the sandbox to read must be absolute: {text!r}")
        real = os.path.realpath(text)
        if not os.path.isdir(real):
            raise ValueError(f"a folder for the sandbox to read does not exist: {text}")
        if real in PRIVATE_TMPFS:
            raise ValueError(f"{real} stays private to the sandbox: it cannot be shown")
        scratch = self._scratch
        if real == scratch or is_inside(real, scratch) or is_inside(scratch, real):
            raise ValueError(f"{real} would hide the sandbox's own folder {scratch}")
        return real

    def submit(
        self, program: str, timeout_s: float = 5.0, *, readable_paths: Iterable[Folder] = ()
    ) -> Future[ExecResult]:
        """Queue ``program``; the future gets its ``ExecResult`` (it never holds an exception
        for anything the program does). Cancelling a queued future skips the program.

        ``readable_paths``: folders this program must read (e.g. its package, for imports).
        With namespaces, the sample's child shows them to it read-only, in a mount
        namespace of its own, even where the sandbox hides them (under /tmp, under a folder
        the sandbox user cannot enter, or, without root, anywhere outside its private root):
        nothing beside them becomes visible, and no other sample sees them. Landlock lets it
        read them (and what it must read anyway), nothing else. Their own permissions still
        apply: the sandbox user must be allowed to read them. With ``namespaces=False`` (the
        guard alone) samples read the host's files as they are, and this changes nothing.
        """
        return self._queue(program, timeout_s, self._readable(readable_paths))

    def _readable(self, paths: Iterable[Folder]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.readable_folder(path) for path in paths))

    def _queue(
        self, program: str, timeout_s: float, readable: tuple[str, ...]
    ) -> Future[ExecResult]:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        job = _Job(program, timeout_s, readable)
        with self._lock:
            if self._closed or not self._live_drivers:
                raise SandboxError("the sandbox is closed")
            self._jobs.put(job)
        return job.future

    def run(
        self, program: str, timeout_s: float = 5.0, *, readable_paths: Iterable[Folder] = ()
    ) -> ExecResult:
        """Run ``program`` to its end or its limits and return how it ended (``readable_paths``:
        as for ``submit``)."""
        return self.submit(program, timeout_s, readable_paths=readable_paths).result()

    def map(
        self,
        programs: Iterable[str],
        timeout_s: float = 5.0,
        *,
        on_result: Callable[[int, ExecResult], None] | None = None,
        readable_paths: Iterable[Folder] = (),
    ) -> Iterator[ExecResult]:
        """Queue every program at once (like ``Executor.map``); the iterator yields the results
        in input order. ``on_result(index, result)`` is called from a driver thread as each
        one finishes. Programs not yet started are skipped when the iterator is closed early.
        ``readable_paths``: as for ``submit``, for every program.
        """
        readable = self._readable(readable_paths)
        futures = [self._queue(program, timeout_s, readable) for program in programs]
        if on_result is not None:
            for index, future in enumerate(futures):
                future.add_done_callback(
                    lambda f, i=index: None if f.cancelled() else on_result(i, f.result())
                )
        return _in_order(futures)

    def close(self) -> None:
        """Stop every worker now; queued programs are cancelled. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for driver in self._drivers:
            driver.worker.terminate()  # a driver waiting for an answer wakes up at once
            self._jobs.put(None)
        for driver in self._drivers:
            driver.join()
        self._cancel_queued()
        self._remove_scratch()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def _driver_exited(self) -> None:
        with self._lock:
            self._live_drivers -= 1
            last = self._live_drivers == 0
        if last:
            self._cancel_queued()

    def _cancel_queued(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None and not job.future.cancel():
                _fail(job, SandboxError("the sandbox was closed"))


class _Driver(threading.Thread):
    """Feeds one worker and collects its answers."""

    def __init__(self, sandbox: Sandbox, worker: WorkerProcess) -> None:
        super().__init__(name=f"sandbox-driver-{worker.pid}", daemon=True)
        self.sandbox = sandbox
        self.worker = worker
        self.in_flight: deque[_Job] = deque()
        self.head_started = 0.0  # when the oldest job in flight began to run

    def run(self) -> None:
        try:
            while self._fill():
                self._collect_one()
        except SandboxError as exc:  # no replacement worker could be started
            log.error("sandbox driver stopped: %s", exc)
        finally:
            self.worker.kill()
            for job in self.in_flight:
                _fail(job, SandboxError("the sandbox was closed"))
            self.sandbox._driver_exited()

    def _fill(self) -> bool:
        """Queue jobs in the worker up to the pipeline depth; False when it is time to stop."""
        if self.sandbox.closed:
            return False
        while len(self.in_flight) < PIPELINE_DEPTH:
            try:
                job = self._next_job()
            except queue.Empty:
                break
            if job is None:  # close() puts one None per driver
                return False
            if not job.future.set_running_or_notify_cancel():
                continue
            if not self.in_flight:
                self.head_started = time.monotonic()
            self.in_flight.append(job)
            self._deliver(job)
        return True

    def _next_job(self) -> _Job | None:
        """Wait for a job when this worker is idle; when it is busy, take one more only if no
        other worker is idle (it would start the job sooner). ``queue.Empty``: none for us."""
        if self.in_flight:
            if self.sandbox._idle_drivers:
                raise queue.Empty
            return self.sandbox._jobs.get_nowait()
        with self.sandbox._lock:
            self.sandbox._idle_drivers += 1
        try:
            return self.sandbox._jobs.get()
        finally:
            with self.sandbox._lock:
                self.sandbox._idle_drivers -= 1

    def _deliver(self, job: _Job) -> None:
        if self.worker.exit_status() is not None:
            return  # died while idle: _collect_one replaces it and resends
        try:
            self.worker.send(job.program, job.timeout_s, job.readable_paths)
            job.delivered = True
        except OSError:
            pass  # the worker is gone: _collect_one finds out and resends

    def _collect_one(self) -> None:
        head = self.in_flight[0]
        deadline = self.head_started + head.timeout_s + ANSWER_GRACE_S
        try:
            result = self.worker.receive(deadline) if head.delivered else None
        except TimeoutError:
            self._replace("it stopped answering")
            result = ExecResult(Outcome.TIMEOUT, "the sandbox worker stopped answering")
        if result is None and self.sandbox.closed:
            return
        if result is None and not head.delivered:
            self._replace("it had exited")
            return  # head is resent to the new worker with the others
        if result is None:
            code = self.worker.exit_status()
            self._replace(f"it died (exit status {code})")
            result = ExecResult(Outcome.CRASHED, f"the sandbox worker died (exit status {code})")
        self.in_flight.popleft()
        self.head_started = time.monotonic()
        head.future.set_result(result)

    def _replace(self, why: str) -> None:
        """Kill the worker, start a new one, and resend what was queued in the old one
        (except the head job when it had been running: its result is reported instead)."""
        log.warning("replacing sandbox worker %s: %s", self.worker.pid, why)
        self.worker.kill()
        if self.sandbox.closed:
            return
        self.worker = WorkerProcess.start_many(1, self.sandbox.config)[0]
        resend = list(self.in_flight)
        if resend and resend[0].delivered:
            resend = resend[1:]
        self.head_started = time.monotonic()
        for job in resend:
            job.delivered = False
            self._deliver(job)


def _in_order(futures: list[Future[ExecResult]]) -> Iterator[ExecResult]:
    try:
        for future in futures:
            yield future.result()
    finally:
        for future in futures:
            future.cancel()


def _fail(job: _Job, error: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(error)
