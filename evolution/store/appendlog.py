"""An append-only line file that threads and processes can share without losing or tearing lines.

Guarantees, and what gives them:

- Writers exclude each other: a thread lock inside the process, then ``fcntl.flock`` on the
  file across processes (the language server and a batch ``evoselfcode evolve`` append to the
  same store). Without ``fcntl`` (Windows) only the thread lock applies, and a warning says so.
- A line is written by ONE ``os.write`` of the whole line (``O_APPEND``) and then ``fsync``ed:
  a process killed with SIGKILL dies between system calls, so a line is either wholly in the
  file or not at all, and a line reported as written survives a crash.
- A torn last line (a power loss between the data and the size reaching the disk, or a writer
  that wrote partially and died) is found under the lock, moved to a ``.torn-<time>`` file
  beside the log and cut off, never merged with the next line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evolution.store.errors import StoreWriteError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

logger = logging.getLogger(__name__)

_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class TornTail:
    """Bytes after the last newline that were set aside when the file was opened or locked."""

    offset: int
    size: int
    saved_to: Path


class AppendOnlyLog:
    """One append-only file of newline-terminated lines (the caller decides what a line holds)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path, flags, 0o644)
        self._thread_lock = threading.RLock()
        self._depth = 0  # re-entrant use of locked() takes the file lock once
        if fcntl is None:
            logger.warning("no fcntl here: %s is protected against other threads only", path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the writer lock (threads and processes). Re-entrant within one thread."""
        with self._thread_lock:
            if self._depth == 0 and fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and fcntl is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def append(self, line: bytes) -> int:
        """Append one whole line and fsync it; returns its offset. Hold ``locked()``.

        On failure (disk full, I/O error) the file is cut back to where it was, so no partial
        line stays behind, and ``StoreWriteError`` says what happened.
        """
        if not line.endswith(b"\n") or b"\n" in line[:-1]:
            raise ValueError("a log line must hold exactly one newline, at its end")
        offset = self.size()
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # only after a signal or a full disk; still locked
                written += os.write(self._fd, line[written:])
            os.fsync(self._fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, offset)
            raise StoreWriteError(f"could not append to {self.path}: {exc}") from exc
        return offset

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def lines(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(offset, line)`` for each complete line in ``[start, end)``, newline included."""
        end = self.size() if end is None else end
        position, pending = start, b""
        while position < end:
            chunk = os.pread(self._fd, min(_READ_CHUNK, end - position), position)
            if not chunk:
                break
            position += len(chunk)
            pending += chunk
            line_start = position - len(pending)
            cut = 0
            while (newline := pending.find(b"\n", cut)) >= 0:
                yield line_start + cut, pending[cut : newline + 1]
                cut = newline + 1
            pending = pending[cut:]

    def set_aside_torn_tail(self) -> TornTail | None:
        """Move bytes after the last newline to a side file and cut them off. Hold ``locked()``."""
        size = self.size()
        if size == 0 or self.read(size - 1, 1) == b"\n":
            return None
        keep = self._last_newline_end(size)
        torn = self.read(keep, size - keep)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        saved_to = self.path.with_name(f"{self.path.name}.torn-{stamp}-{keep}")
        with open(saved_to, "wb") as side:
            side.write(torn)
            side.flush()
            os.fsync(side.fileno())
        os.ftruncate(self._fd, keep)
        os.fsync(self._fd)
        logger.warning(
            "%s ended in a torn line (%d bytes at offset %d, from a crash); "
            "set aside in %s, not merged",
            self.path,
            size - keep,
            keep,
            saved_to,
        )
        return TornTail(offset=keep, size=size - keep, saved_to=saved_to)

    def _last_newline_end(self, size: int) -> int:
        position = size
        while position > 0:
            start = max(0, position - _READ_CHUNK)
            found = self.read(start, position - start).rfind(b"\n")
            if found >= 0:
                return start + found + 1
            position = start
        return 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> AppendOnlyLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
