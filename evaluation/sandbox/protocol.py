"""What the host and the sandbox workers exchange: limits, outcomes, and length-prefixed frames.

Standard library only: sandbox workers import this module, and they import nothing heavy.
Each frame is an 8-byte big-endian length followed by that many bytes of UTF-8 JSON.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

_HEADER = struct.Struct(">Q")
# A request holds one program; a megabyte-sized completion is fine, a gigabyte is a bug.
MAX_FRAME_BYTES = 256 * 1024 * 1024


class Outcome(str, Enum):
    """How one program ended. Only ``PASSED`` means the program ran to its end.

    - ``passed``: the program ran to its end without raising (for a check program: every
      check passed); reported by the harness only after the program returned.
    - ``failed``: an ``AssertionError`` escaped (a check failed).
    - ``error``: another exception escaped, named in ``exc_type`` (``SystemExit`` included:
      ``sys.exit()``/``exit()`` before the end is an error, never a pass).
    - ``syntax_error``: the program does not compile.
    - ``timeout``: it ran past the wall-clock limit or its CPU-time limit and was killed.
    - ``oom``: ``MemoryError``, i.e. it hit its address-space limit.
    - ``crashed``: the process ended without the harness reporting: killed by a signal
      (e.g. SIGSEGV from a C stack overflow), or ``os._exit(n)`` before the end, whatever n.
    """

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SYNTAX_ERROR = "syntax_error"
    TIMEOUT = "timeout"
    OOM = "oom"
    CRASHED = "crashed"


@dataclass(frozen=True)
class Limits:
    """Resource limits for each sample (each one a kernel ``setrlimit`` except the output cap).

    ``memory_mb`` is added to the worker's own address-space size at fork time (an absolute
    limit breaks as soon as the interpreter grows). ``max_processes`` bounds the processes
    and threads of the sandbox's user beyond those it already had when the worker started.
    """

    memory_mb: int = 1024
    file_size_mb: int = 16
    max_processes: int = 32
    max_open_files: int = 256
    max_output_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"sandbox limit {name} must be a positive integer, got {value!r}")

    def to_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class WorkerConfig:
    """How a pool's workers are set up; a worker reads it as JSON from its command line."""

    limits: Limits
    namespaces: bool  # try the kernel's isolation (namespaces, Landlock, seccomp)
    scratch: str  # the pool's folder, under which workers make each sample's own folder
    python_paths: tuple[str, ...] = ()  # real folders put first on every sample's sys.path

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "python_paths": list(self.python_paths)}


@dataclass(frozen=True)
class ExecResult:
    """How one program ended in the sandbox (see ``Outcome`` for the classes).

    ``stdout``/``stderr`` hold at most ``Limits.max_output_bytes`` each (a note says how much
    more was dropped); ``signal`` names the signal that ended the process, if one did.
    """

    outcome: Outcome
    detail: str = ""
    exc_type: str | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    exit_status: int | None = None
    signal: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> ExecResult:
        """From a worker's answer frame."""
        return cls(
            outcome=Outcome(answer["outcome"]),
            detail=answer.get("detail") or "",
            exc_type=answer.get("exc_type"),
            stdout=answer.get("stdout", ""),
            stderr=answer.get("stderr", ""),
            duration_s=float(answer.get("duration_s", 0.0)),
            exit_status=answer.get("exit_status"),
            signal=answer.get("signal"),
        )


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Send one JSON message; blocks until the reader has taken it all."""
    payload = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_frame(fd: int, deadline: float | None = None) -> dict[str, Any] | None:
    """Receive one JSON message; ``None`` at end of stream.

    With a ``deadline`` (a ``time.monotonic()`` value), raises ``TimeoutError`` when the
    message has not fully arrived by then.
    """
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ValueError(f"sandbox frame of {length} bytes exceeds {MAX_FRAME_BYTES}")
    payload = _read_exact(fd, length, deadline)
    if payload is None:
        raise EOFError("sandbox stream ended inside a frame")
    return json.loads(payload.decode("utf-8", "surrogatepass"))


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError("no answer from the sandbox worker in time")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if remaining == size:
                return None
            raise EOFError("sandbox stream ended inside a frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
