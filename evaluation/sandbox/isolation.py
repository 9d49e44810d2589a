"""Kernel isolation a sandbox worker sets up once, and per sample: namespaces and the sandbox user.

Standard library only (runs inside sandbox workers). Everything here needs privileges; each
step is tried and recorded, never required: without it the worker falls back to the in-process
guard (``guard.py``), which is not isolation. Linux only.

- network namespace (per worker): no interface but a loopback that is down, so no connection
  can leave, whatever the code does (raw sockets and ctypes included);
- mount namespace (per worker): fresh, private tmpfs on /tmp, /var/tmp and /dev/shm, so what a
  sample writes there never reaches the host's; the rest of the file tree is shared;
- PID namespace (per sample): the sample is PID 1 of its own namespace; when it ends or is
  killed, the kernel kills every process it started, even ones that left its session;
- sandbox user (per sample): when the worker runs as root, samples run as ``nobody`` with no
  supplementary groups, so they cannot write files they do not own, signal other users'
  processes, or raise their own limits, and the process-count limit applies to them. When the
  Python installation sits under a folder ``nobody`` cannot enter (a pyenv under /root, mode
  0700), that folder is covered, in the worker's mount namespace only, by an empty tmpfs into
  which just the interpreter's own folders are bind-mounted back. If ``nobody`` still cannot
  read them, samples run as the host's user (recorded in ``Isolation.sandbox_uid``).
"""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
from dataclasses import asdict, dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 0x2
PR_SET_PDEATHSIG = 1
MS_PRIVATE = 0x40000
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")
TMPFS_OPTIONS = b"size=256m,mode=1777"


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


_libc: ctypes.CDLL | None = None


def _call(name: str, *args: object) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if getattr(_libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def setup_worker(use_namespaces: bool, python_paths: list[str]) -> tuple[Isolation, int | None]:
    """Enter the worker's network and mount namespaces and pick the sandbox user.

    ``python_paths`` are the folders samples must be able to read (``sys.path``). Returns the
    isolation and, when PID namespaces work, an fd of the worker's own PID namespace (for
    ``fork_into_pid_namespace``).
    """
    if os.geteuid() != 0:
        return Isolation(False, False, False, None), None
    network = mounts = False
    own_pid_ns = None
    if use_namespaces:
        try:
            _call("unshare", CLONE_NEWNET)
            network = True
        except OSError:
            pass
        try:
            _enter_mount_namespace(python_paths)
            mounts = True
        except OSError:
            pass
        own_pid_ns = _probe_pid_namespace()
    uid = _nobody_uid()
    if not _user_can_read(uid, python_paths):
        uid = None
    return Isolation(network, mounts, own_pid_ns is not None, uid), own_pid_ns


def _enter_mount_namespace(python_paths: list[str]) -> None:
    _call("unshare", CLONE_NEWNS)
    # Private propagation first, so that nothing mounted here shows up on the host.
    _call("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    for path in PRIVATE_TMPFS:
        if os.path.isdir(path):
            _call("mount", b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, TMPFS_OPTIONS)
    _expose(python_paths, stash="/tmp/.evoselfcode-expose")


def _expose(paths: list[str], stash: str) -> None:
    """Make ``paths`` reachable for other users when an ancestor folder hides them.

    Each hiding ancestor gets an empty tmpfs on top, into which only the needed folders are
    bind-mounted back (through a stash, since the tmpfs hides the originals).
    """
    hidden: dict[str, list[str]] = {}
    for path in sorted({os.path.realpath(p) for p in paths if os.path.isdir(p)}):
        ancestor = _hiding_ancestor(path)
        if ancestor is None:
            continue
        needed = hidden.setdefault(ancestor, [])
        if not any(path.startswith(kept + os.sep) for kept in needed):  # sorted: parents first
            needed.append(path)
    os.makedirs(stash, exist_ok=True)
    for n, (ancestor, needed) in enumerate(hidden.items()):
        stashed = []
        for i, path in enumerate(needed):
            spot = os.path.join(stash, f"{n}-{i}")
            os.mkdir(spot)
            _call("mount", path.encode(), spot.encode(), None, MS_BIND | MS_REC, None)
            stashed.append((spot, path))
        _call("mount", b"tmpfs", ancestor.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755")
        for spot, path in stashed:
            os.makedirs(path, mode=0o755, exist_ok=True)
            _call("mount", spot.encode(), path.encode(), None, MS_BIND | MS_REC, None)
            _call("umount2", spot.encode(), MNT_DETACH)
            os.rmdir(spot)
    os.rmdir(stash)


def _hiding_ancestor(path: str) -> str | None:
    """The outermost folder above ``path`` that other users may not enter, if any."""
    current = os.sep
    for part in path.strip(os.sep).split(os.sep)[:-1]:
        current = os.path.join(current, part)
        if not os.stat(current).st_mode & 0o001:
            return current
    return None


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
        _call("unshare", CLONE_NEWPID)
        _call("setns", own, CLONE_NEWPID)
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
    _call("unshare", CLONE_NEWPID)
    try:
        pid = os.fork()
    except BaseException:
        _call("setns", own_pid_ns, CLONE_NEWPID)
        raise
    if pid:  # the parent; the child has nothing to restore
        _call("setns", own_pid_ns, CLONE_NEWPID)
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
    _call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL)


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
