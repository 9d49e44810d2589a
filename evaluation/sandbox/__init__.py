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

Isolated, by the kernel, whatever the program does (``ctypes`` included), in every setup:
- time: a wall-clock limit enforced from outside (the worker SIGKILLs the sample's session or
  PID namespace; tampering with signals or timers inside changes nothing) and a CPU-time rlimit;
- memory: RLIMIT_AS = the worker's own size + ``Limits.memory_mb``; file size: RLIMIT_FSIZE;
  processes: RLIMIT_NPROC; open files: RLIMIT_NOFILE; no core dumps;
- output: stdout and stderr go to pipes the worker drains, keeping ``Limits.max_output_bytes``;
- its process group is killed as a whole, and it dies with its worker (PR_SET_PDEATHSIG), so
  closing the pool leaves nothing behind.

What else holds depends on what the kernel allows; ``Sandbox.isolation`` says which setup a
pool got, its ``level`` (``full``, ``partial``, ``guard-only``) and, below ``full``, what is
missing and how to allow it (``jail.py`` says how each part is set up).

As root (level ``full``), isolated by the kernel:
- network: a private network namespace whose only interface, loopback, is down: no connection
  anywhere, the host's loopback included; seccomp refuses sockets of any family but AF_UNIX,
  Landlock any TCP connect or bind;
- processes: each sample is PID 1 of a PID namespace of its own: every process it started dies
  with it, including ones that left its session; it runs as ``nobody``, can name and signal
  no process outside (``kill(-1)`` reaches only its own), and Landlock and seccomp keep it
  from tracing any or reading their memory or environment;
- files: it writes only in its private folder (cwd, HOME, TMPDIR; removed afterwards) and
  reads only what it must (Landlock: the Python paths, its ``readable_paths``, the system's
  libraries, a few devices, /proc), in the host's tree seen as ``nobody`` with private /tmp,
  /var/tmp and /dev/shm; a folder on ``sys.path`` or in ``readable_paths`` is shown read-only
  at its own path even there (a sample's folders to no other sample: ``mounts.py``);
- the kernel: ``no_new_privs`` and a seccomp filter (``seccomp.py``) refuse the calls no test
  needs: ptrace, mount, namespaces, bpf, keyctl, io_uring, module loading, kexec, setsid, ...
Not isolated: /proc is the host's (other processes' command lines show, not their environment).

Without root, where the kernel allows unprivileged user namespaces (level ``full``), isolated by
the kernel: the same network, processes and kernel walls, and files behind two walls: a
private read-only root (``view.py``) that holds only the Python paths, the system's libraries,
a few devices, the sample's ``readable_paths`` and its private folder (not the user's home,
/etc, /tmp or the project), and Landlock as above. Samples run as the user's own uid with no
capabilities, in a user namespace of their worker's; /proc shows their worker's PID namespace
only.

Without root, where the kernel refuses user namespaces (level ``partial``): no namespaces, but
Landlock and seccomp still hold files (reads and writes as above, in the host's tree; /proc is
not readable), the network (no socket at all but ``socketpair``), tracing, and signals (only
inside its own sandbox with Landlock ABI >= 6; below that only ``kill(-1)`` is refused); its
process group is killed as a whole, and seccomp keeps every child in it. Not isolated: the
host's process and mount namespaces (a sample sees the tree's layout through ``stat``), and
RLIMIT_NPROC counts all of the user's processes (a fork bomb in one sample can starve the
forks of the samples that run beside it). Without Landlock either (Linux < 5.13, or not
enabled), files are guarded only.

Guarded only, in-process (``guard.py``; ctypes or a C extension goes around it): writes and
deletions outside the private folder, network sockets, starting processes, signals to other
processes. In a ``full`` or ``partial`` setup the kernel holds these too and the guard only
gives clearer errors; with ``namespaces=False``, or where the kernel has none of the above
(level ``guard-only``), it is all there is.

Not isolated at all: reading what a sample was given to read; CPU caches, memory bandwidth and
disk I/O; the kernel itself through the calls the filter allows. Linux only: on Windows the
pool refuses (no isolation exists there; WSL 2 gives the Linux sandbox); on macOS the Seatbelt
profile (``seatbelt.py``) is written and tested, but the pool does not run there yet.

Untrusted code from self-evolve runs only at level ``full`` unless the user allows less
(``evoselfcode.evolution.allowGuardOnly``, ``evoselfcode evolve --allow-guard-only``); an
evaluation runs at any level with a loud warning in its output, summary and report.
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
