"""A clean stop on SIGTERM or SIGINT: finish the step, checkpoint, exit with 128 + signal.

The first signal only sets a flag that the training loop reads between micro-batches; the
default handlers come back at once, so a second Ctrl-C kills the process. That is safe too:
checkpoints are published atomically, so a kill loses at most the steps since the last one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """Set by a signal (or by :meth:`request` from code, e.g. a test)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        self._callbacks: list[Callable[[], None]] = []

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def request(self, signum: int = signal.SIGTERM) -> None:
        self.signum = signum
        for callback in self._callbacks:
            callback()

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on a stop (at once if one came already), e.g. a CancelToken's."""
        self._callbacks.append(callback)
        if self.requested:
            callback()

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + (self.signum or 0)

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Catch the stop signals while the block runs (main thread only; a no-op elsewhere)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        try:
            yield self
        finally:
            self._restore()

    def _handle(self, signum: int, frame: object) -> None:
        del frame
        self._restore()
        self.request(signum)

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous = {}
