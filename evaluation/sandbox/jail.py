"""Kernel isolation a sandbox worker sets up once (``Jail.set_up``) and each sample's child enters.

Standard library only (runs inside sandbox workers). Each step is tried and recorded in the
worker's ``Isolation``, never silently assumed. Linux only. Three setups:

As root:
- network namespace (per worker): no interface but a loopback that is down, so no connection
  can leave, whatever the code does (raw sockets and ctypes included);
- mount namespace (per worker): fresh, private tmpfs on /tmp, /var/tmp and /dev/shm; the rest
  of the file tree is shared. The folders samples must read (``sys.path``) stay visible
  wherever they are, and a sample can be given more to read in a mount namespace of its own
  (``mounts.py``);
- sandbox user (per sample): ``nobody``, with no supplementary groups, so samples cannot write
  files they do not own, signal other users' processes or raise their limits. A Python under a
  folder ``nobody`` cannot enter (a pyenv under /root) is shown again inside an empty tmpfs
  covering that folder; if ``nobody`` still cannot read it, samples run as the host's user.

Without root, where the kernel allows unprivileged user namespaces (``userns.py``): the worker
maps its user to itself in a user namespace with its own network, mount, IPC, UTS and PID
namespaces, is PID 1 of the last (with a /proc of its own), and makes a private read-only root
its samples' whole file tree (``view.py``). A sample given folders to read gets a view of its
own, built from the host's tree in a fresh mount namespace. Samples drop every capability.

Without root and without user namespaces: no namespaces; ``Isolation.problems`` says why.

In every setup, unless namespaces were turned off (``namespaces=False``: the guard alone, for
tests of the fallback): per sample, a PID namespace where the kernel allows one (the sample is
its PID 1: when it ends, the kernel kills every process it started), Landlock (``landlock.py``:
reads only of what it must read, writes only in its own folder, no TCP, no signals or abstract
sockets outside) and a seccomp filter (``seccomp.py``), after ``no_new_privs``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import sys
from dataclasses import dataclass, replace

from evaluation.sandbox import landlock, seccomp, userns
from evaluation.sandbox.isolation import Isolation
from evaluation.sandbox.mounts import MountPlan, WorkerMounts
from evaluation.sandbox.syscalls import (
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    MS_PRIVATE,
    MS_REC,
    PR_SET_DUMPABLE,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    call,
    mount,
    unshare,
)
from evaluation.sandbox.view import View

_DEV_NULL = "/dev/null"
_NO_LANDLOCK = (
    "Landlock is not enabled in this kernel (Linux >= 5.13, with `landlock` in the `lsm=` "
    "boot parameter or CONFIG_LSM): without it nothing in the kernel limits what a sample "
    "reads and writes beyond its namespaces"
)


@dataclass
class Jail:
    """What a worker set up, and how each of its samples' children enters it."""

    isolation: Isolation
    base_dir: str  # each sample's own folder is made in it
    nproc_base: int  # tasks of the samples' user counted before any sample ran
    landlock: landlock.Policy | None = None  # what every sample may read and write
    own_pid_ns: int | None = None  # the worker's PID namespace, when samples get their own
    mounts: WorkerMounts | None = None  # as root
    view: View | None = None  # in a user namespace: the samples' private root
    host_mount_ns: int | None = None  # in a user namespace: where a sample's view is built from
    staging: str = ""  # in a user namespace: where a sample's view is built
    seccomp_filter: seccomp.Filter | None = None

    @classmethod
    def set_up(cls, use_namespaces: bool, python_paths: list[str], scratch: str) -> Jail:
        """Set up this worker (see the module docstring); ``python_paths``: ``sys.path``."""
        if os.geteuid() == 0:
            jail = _as_root(use_namespaces, python_paths, scratch)
        elif not use_namespaces:
            jail = _bare(scratch)
        else:
            refused = userns.probe(scratch)
            if refused is None:
                jail = _in_user_namespace(python_paths, scratch)
            else:
                reasons = userns.refusal_reasons(refused, sys.executable)
                jail = _bare(scratch, problems=reasons)
        if use_namespaces:
            jail = _with_landlock_and_seccomp(jail, python_paths)
        return jail

    def sample_mounts(self, readable: list[str], sample_dir: str) -> MountPlan | None:
        """As root: what a sample given ``readable`` mounts (worked out before forking)."""
        if not readable or self.mounts is None:
            return None
        return self.mounts.sample_plan(readable, sample_dir)

    def enter_mounts(
        self, plan: MountPlan | None, readable: list[str], sample_dir: str
    ) -> list[str]:
        """In a sample's child: its own mounts, if it needs any. Returns what it may read
        besides what every sample may."""
        if plan is not None:
            plan.apply(new_namespace=True)
        if not readable or self.view is None or self.host_mount_ns is None:
            return readable
        call("setns", self.host_mount_ns, CLONE_NEWNS)
        unshare(CLONE_NEWNS)
        proc = self.view.with_readable(readable).enter(self.staging)
        os.mkdir(sample_dir, 0o700)  # in the view's fresh scratch tmpfs
        return [*readable, *(["/proc"] if proc else [])]  # a /proc of its own PID namespace

    def restrict(self, readable: list[str], sample_dir: str) -> None:
        """In a sample's child, after its mounts: ``no_new_privs`` and Landlock."""
        call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if self.landlock is not None:
            self.landlock.restrict(readable, sample_dir)

    def drop_privileges(self) -> None:
        """In a sample's child: become the sandbox user, or give up every capability."""
        uid = self.isolation.sandbox_uid
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        elif self.isolation.user_namespace:
            userns.drop_capabilities()

    def seal(self) -> None:
        """In a sample's child, just before the program: the seccomp filter."""
        if self.seccomp_filter is not None:
            self.seccomp_filter.install()


def _as_root(use_namespaces: bool, python_paths: list[str], scratch: str) -> Jail:
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
    base_dir = _make_base_dir(scratch, open_to_others=uid is not None)
    nproc_base = count_user_tasks(uid if uid is not None else os.getuid())
    return Jail(isolation, base_dir, nproc_base, own_pid_ns=own_pid_ns, mounts=mounts)


def _in_user_namespace(python_paths: list[str], scratch: str) -> Jail:
    userns.enter()  # from here on, this is the worker: PID 1 of its own PID namespace
    userns.drop_bounding_set()  # no sample can gain a capability by executing a file
    mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the host
    host_mount_ns = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    unshare(CLONE_NEWNS)
    base_dir = os.path.join(scratch, "samples")
    view = View.plan(python_paths, base_dir)
    proc = view.enter(scratch)
    # The samples, though the same user, may not read this process's memory or environment.
    call("prctl", PR_SET_DUMPABLE, 0, 0, 0, 0)
    isolation = Isolation(
        True, True, True, None, user_namespace=True, private_root=True, private_proc=proc
    )
    nproc_base = 2  # in this user namespace: this process and the one waiting outside
    return Jail(
        isolation,
        base_dir,
        nproc_base,
        own_pid_ns=own_pid_ns,
        view=view,
        host_mount_ns=host_mount_ns,
        staging=scratch,
    )


def _bare(scratch: str, problems: list[str] | None = None) -> Jail:
    isolation = Isolation(False, False, False, None, problems=tuple(problems or ()))
    return Jail(isolation, _make_base_dir(scratch), count_user_tasks(os.getuid()))


def _with_landlock_and_seccomp(jail: Jail, python_paths: list[str]) -> Jail:
    iso = jail.isolation
    abi = landlock.abi_version()
    # A path socket is harmless only where the sample's file tree holds none of the host's.
    filter_bytes = seccomp.build_filter(unix_sockets=iso.private_root)
    problems = [*iso.problems, *([] if abi else [_NO_LANDLOCK])]
    iso = replace(iso, landlock_abi=abi, seccomp=filter_bytes is not None, problems=tuple(problems))
    # As root /proc is the host's (samples run as nobody); without namespaces, it is not shown.
    proc = iso.private_proc or os.geteuid() == 0
    view = jail.view or View.plan(python_paths, "")
    readable = view.landlock_readable(proc)
    policy = landlock.Policy(abi, readable, [_DEV_NULL], jail.base_dir) if abi else None
    program = None if filter_bytes is None else seccomp.Filter(filter_bytes)
    return replace(jail, isolation=iso, landlock=policy, seccomp_filter=program)


def _make_base_dir(scratch: str, *, open_to_others: bool = False) -> str:
    """``scratch`` is the pool's folder, which the host removes when it closes; with a private
    /tmp the same path is made inside it, where it vanishes with the worker."""
    base_dir = os.path.join(scratch, str(os.getpid()))
    os.makedirs(base_dir, 0o711, exist_ok=True)
    if open_to_others:
        for folder in (scratch, base_dir):  # the sandbox user enters them, lists neither
            os.chmod(folder, 0o711)
    return base_dir


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
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
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


def die_with_parent() -> None:
    """In a sample's child: be killed when the worker dies (``PR_SET_PDEATHSIG``).

    Call it after ``Jail.drop_privileges``: changing credentials clears the setting.
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
