"""Run untrusted Python programs (model output, generated tests) in a pool of sandbox workers.

    from evaluation.sandbox import Sandbox
    with Sandbox(workers=2) as sandbox:
        result = sandbox.run(program, timeout_s=5.0)     # -> ExecResult(outcome, detail, ...)
        results = list(sandbox.map(programs, timeout_s=5.0))
        result = sandbox.run(program, readable_paths=[package_folder])  # folders it must read

Each worker is a long-lived, lightweight Python process started with a scrubbed environment
(no API keys, no PYTHONPATH). Each sample runs in a fresh child forked from a worker, as
``exec`` of the program with ``__name__ == "__sandbox__"``, and is reported as one ``Outcome``
(see ``protocol.Outcome``): only a program that ran to its end passes; exiting early through
``os._exit``, ``sys.exit`` or a signal never does, and a result report forged by the program
is recognised (it lacks the per-sample nonce) and reported as ``crashed``.

Isolated, by the kernel, whatever the program does:
- time: a wall-clock limit enforced from outside (the worker SIGKILLs the sample's session or
  PID namespace; tampering with signals or timers inside changes nothing) and a CPU-time rlimit;
- memory: RLIMIT_AS = the worker's own size + ``Limits.memory_mb``; file size: RLIMIT_FSIZE;
  processes: RLIMIT_NPROC; open files: RLIMIT_NOFILE; no core dumps;
- processes: a session and process group of its own, killed as a whole; with PID namespaces
  (root) every process it started dies with it, including ones that left its session; and it
  dies with its worker (PR_SET_PDEATHSIG), so closing the pool leaves nothing behind;
- output: stdout and stderr go to pipes the worker drains, keeping ``Limits.max_output_bytes``;
- files: a private temporary folder as cwd, HOME and TMPDIR, removed afterwards;
- and, where the host runs as root (see ``isolation.py``, reported by ``Sandbox.isolation``):
  no network (a private network namespace), private /tmp, /var/tmp and /dev/shm, and an
  unprivileged user (``nobody``) that cannot write the host's files or signal its processes.
  The folders on the samples' ``sys.path`` (the interpreter's, a ``.venv``, the pool's
  ``python_paths``) stay readable wherever they are, and a sample sees the folders in its
  ``readable_paths`` even under /tmp or under a folder ``nobody`` cannot enter: each shown
  read-only at its own path, with nothing else of the host's /tmp, and a sample's folders
  to no other sample (``mounts.py``). Without root these arguments change nothing: samples
  run as the host's user and read the host's tree as it is.

Guarded only, in-process (``guard.py``; ctypes or a C extension goes around it): writes and
deletions outside the private folder, network sockets, starting processes, signals to other
processes. Without root this guard is all that stands between the program and the network,
the user's files and the user's processes.

Not isolated at all: reading files the sandbox user may read (outside the private folders;
and what a sample was given to read); CPU caches, memory bandwidth and disk I/O; the kernel's
attack surface (no seccomp filter); /proc shows the host's processes. Linux only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evaluation.sandbox.isolation import Isolation
    from evaluation.sandbox.pool import Sandbox
    from evaluation.sandbox.protocol import ExecResult, Limits, Outcome

__all__ = ["ExecResult", "Isolation", "Limits", "Outcome", "Sandbox"]

# Resolved on first use, so that a worker importing ``evaluation.sandbox.worker`` does not load
# the host side (subprocess, threads, logging): every module a worker holds is memory that its
# forked children may have to copy.
_HOMES = {
    "ExecResult": "protocol",
    "Sandbox": "pool",
    "Isolation": "isolation",
    "Limits": "protocol",
    "Outcome": "protocol",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
