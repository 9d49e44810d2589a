"""Kernel isolation a sandbox worker sets up once, and per sample: namespaces and the sandbox user.

Standard library only (runs inside sandbox workers). Everything here needs privileges; each
step is tried and recorded, never required: without it the worker falls back to the in-process
guard (``guard.py``), which is not isolation. Linux only.

- network namespace (per worker): no interface but a loopback that is down, so no connection
  can leave, whatever the code does (raw sockets and ctypes included);
- mount namespace (per worker): fresh, private tmpfs on /tmp, /var/tmp and /dev/shm, so what a
  sample writes there never reaches the host's; the rest of the file tree is shared. The folders
  samples must read (``sys.path``) stay visible wherever they are, and a sample can be given
  more to read in a mount namespace of its own (``mounts.py``);
- PID namespace (per sample): the sample is PID 1 of its own namespace; when it ends or is
  killed, the kernel kills every process it started, even ones that left its session;
- sandbox user (per sample): when the worker runs as root, samples run as ``nobody`` with no
  supplementary groups, so they cannot write files they do not own, signal other users'
  processes, or raise their own limits, and the process-count limit applies to them. When the
  Python installation sits under a folder ``nobody`` cannot enter (a pyenv under /root, mode
  0700), that folder is covered, in the worker's mount namespace only, by an empty tmpfs into
  which just the interpreter's own folders are shown again. If ``nobody`` still cannot read
  them, samples run as the host's user (recorded in ``Isolation.sandbox_uid``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
from dataclasses import asdict, dataclass

from evaluation.sandbox.mounts import WorkerMounts
from evaluation.sandbox.syscalls import CLONE_NEWNET, CLONE_NEWPID, PR_SET_PDEATHSIG, call, unshare


@dataclass(frozen=True)
class Isolation:
    """What really isolates the samples of one worker (the guard is always on as well)."""

    network_namespace: bool
    mount_namespace: bool
    pid_namespace: bool
    sandbox_uid: int | None  # samples run as this unprivileged user; None: as the host's user

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def describe(self) -> str:
        parts = [
            "network: " + ("private namespace" if self.network_namespace else "guard only"),
            "processes: " + ("PID namespace per sample" if self.pid_namespace else "session"),
            "/tmp: " + ("private tmpfs" if self.mount_namespace else "shared (guard only)"),
            "user: " + (f"uid {self.sandbox_uid}" if self.sandbox_uid is not None else "host user"),
        ]
        return ", ".join(parts)


def setup_worker(
    use_namespaces: bool, python_paths: list[str]
) -> tuple[Isolation, int | None, WorkerMounts | None]:
    """Enter the worker's network and mount namespaces and pick the sandbox user.

    ``python_paths`` are the folders samples must be able to read (``sys.path``). Returns the
    isolation; when PID namespaces work, an fd of the worker's own PID namespace (for
    ``fork_into_pid_namespace``); and the worker's private mounts, when it has them.
    """
    if os.geteuid() != 0:
        return Isolation(False, False, False, None), None, None
    network = False
    own_pid_ns = mounts = None
    if use_namespaces:
        try:
            unshare(CLONE_NEWNET)
            network = True
        except OSError:
            pass
        with contextlib.suppress(OSError):
            mounts = WorkerMounts.enter(python_paths)
        own_pid_ns = _probe_pid_namespace()
    uid = _nobody_uid()
    if not _user_can_read(uid, python_paths):
        uid = None
    isolation = Isolation(network, mounts is not None, own_pid_ns is not None, uid)
    return isolation, own_pid_ns, mounts


def _nobody_uid() -> int:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


def _user_can_read(uid: int, paths: list[str]) -> bool:
    """Whether ``uid`` can list every folder of ``paths`` (tried in a throwaway child)."""
    existing = [path for path in paths if os.path.isdir(path)]  # as root, before the drop
    pid = os.fork()
    if pid == 0:
        try:
            drop_privileges(uid)
            for path in existing:
                os.listdir(path)
        except BaseException:
            os._exit(1)
        os._exit(0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def _probe_pid_namespace() -> int | None:
    """Check that a PID namespace can be created and left again; the worker's ns fd or None."""
    try:
        own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        unshare(CLONE_NEWPID)
        call("setns", own, CLONE_NEWPID)
    except OSError:
        os.close(own)
        return None
    return own


def fork_into_pid_namespace(own_pid_ns: int | None) -> int:
    """``os.fork()``, with the child as PID 1 of a new PID namespace when ``own_pid_ns`` is set.

    ``unshare(CLONE_NEWPID)`` only affects the caller's next children, and cannot be repeated
    until the caller points its children back at its own namespace with ``setns``.
    """
    if own_pid_ns is None:
        return os.fork()
    unshare(CLONE_NEWPID)
    try:
        pid = os.fork()
    except BaseException:
        call("setns", own_pid_ns, CLONE_NEWPID)
        raise
    if pid:  # the parent; the child has nothing to restore
        call("setns", own_pid_ns, CLONE_NEWPID)
    return pid


def drop_privileges(uid: int | None) -> None:
    """In a sample's child: become the unprivileged sandbox user (no-op when ``uid`` is None)."""
    if uid is None:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def die_with_parent() -> None:
    """In a sample's child: be killed when the worker dies (``PR_SET_PDEATHSIG``).

    Call it after ``drop_privileges``: changing credentials clears the setting.
    """
    call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL)


def count_user_tasks(uid: int) -> int:
    """Processes and threads owned by ``uid`` (what ``RLIMIT_NPROC`` counts)."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue
    return count
