"""Kernel isolation without root: an unprivileged user namespace, as bubblewrap and nsjail use.

Standard library only (runs inside sandbox workers). A worker that is not root calls
``enter`` once: it maps its user to itself in a new user namespace, and with it gets new mount,
network, IPC, UTS and PID namespaces it may configure (the capabilities it holds there reach
nothing outside). It becomes PID 1 of the new PID namespace; the process the host started
stays outside, waiting, and when it is killed the worker is killed with it (and with the
worker every sample, as the kernel ends a PID namespace with its init).

A sample's child, still in that user namespace, gives up every capability (``drop_capabilities``)
before the program runs, so it can neither undo its mounts nor use the namespaces' powers.

``refusal_reasons`` says, when the kernel refuses, what is missing and how to allow it.
"""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path

from evaluation.sandbox.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    MS_PRIVATE,
    MS_REC,
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAPBSET_DROP,
    PR_SET_PDEATHSIG,
    call,
    mount,
    pivot_root_here,
    unshare,
)

NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID
_CAPABILITY_VERSION_3 = 0x20080522


def enter() -> None:
    """Enter the namespaces and become PID 1 of the new PID namespace (see the docstring).

    Returns in the new worker process only. Call ``probe`` first: past the first step, a
    refusal leaves this process half inside.
    """
    _map_user_to_itself(NAMESPACES)
    _become_pid_one()


def _map_user_to_itself(namespaces: int) -> None:
    uid, gid = os.getuid(), os.getgid()
    unshare(namespaces)
    Path("/proc/self/setgroups").write_text("deny")  # required before an unprivileged gid_map
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _become_pid_one() -> None:
    """Fork: the child goes on as PID 1; this process waits for it and exits as it did.

    The host stops the worker with SIGTERM to this process, which kills the worker and reaps
    it before exiting: killing this process first would leave the worker a zombie for the
    host's init to reap (which, in some containers, never happens). Should this process die
    anyway, the worker is killed with it (``PR_SET_PDEATHSIG``).
    """
    # Held back until the handler is in place: the worker may say it is ready, and the host
    # stop it, before this process has set the handler up.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    pid = os.fork()
    if pid == 0:
        call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        return
    # The waiting parent holds nothing: the host's pipes must reach their end when the
    # worker dies, not when this process does.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    for number in (signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    status = os.waitpid(pid, 0)[1]
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def probe(folder: str) -> str | None:
    """Try, in a throwaway child, every step a worker takes (the namespaces, a tmpfs mounted
    on ``folder``, ``pivot_root`` into it): None if all work, else what failed."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            _map_user_to_itself(NAMESPACES)
            mount("none", "/", None, MS_REC | MS_PRIVATE)
            mount("tmpfs", folder, "tmpfs", 0, "size=64k")
            os.chdir(folder)
            pivot_root_here()
        except OSError as exc:
            os.write(write_end, str(exc).encode())
            os._exit(1)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return None if code == 0 else message or f"the probe exited with status {code}"


def drop_bounding_set() -> None:
    """In the worker, once: no process it starts can ever gain a capability by executing a
    file. The worker keeps the capabilities it has (it mounts for its samples)."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for capability in range(last + 1):
        call("prctl", PR_CAPBSET_DROP, capability, 0, 0, 0)
    call("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def drop_capabilities() -> None:
    """In a sample's child: give up every capability it has, for good (the worker emptied the
    bounding set, so none can come back)."""
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable; two words each: none
    call("capset", header, data)


def refusal_reasons(error: str, executable: str) -> list[str]:
    """What is missing for an unprivileged user namespace, and how to allow it
    (``executable``: the Python the workers run, for an AppArmor profile)."""
    reasons = []
    if _sysctl("kernel/unprivileged_userns_clone") == "0":
        reasons.append(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0):"
            " allow them with `sudo sysctl -w kernel.unprivileged_userns_clone=1`"
        )
    if _sysctl("user/max_user_namespaces") == "0":
        reasons.append(
            "user namespaces are disabled (user.max_user_namespaces = 0): allow them with "
            "`sudo sysctl -w user.max_user_namespaces=15000`"
        )
    if _sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1":
        profile = (
            "`abi <abi/4.0>,` / `include <tunables/global>` / `profile evoselfcode-python "
            f"{os.path.realpath(executable)} flags=(unconfined) {{ userns, }}`"
        )
        reasons.append(
            "AppArmor restricts unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu >= 23.10): allow them "
            f"for this Python with /etc/apparmor.d/evoselfcode-python holding {profile} (one "
            "per line; then `sudo apparmor_parser -r /etc/apparmor.d/evoselfcode-python`), or "
            "for everyone with `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`"
        )
    if not reasons and _in_container():
        reasons.append(
            "this looks like a container whose runtime refuses namespaces (its seccomp or "
            "AppArmor profile): run it with `--security-opt seccomp=unconfined --security-opt "
            "apparmor=unconfined`, or run the evaluation on the host"
        )
    if not reasons:
        reasons.append("the kernel refused a user namespace; check that it is built with them")
    return [f"{reason} (the kernel said: {error})" for reason in reasons]


def _sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", name).read_text().strip()
    except OSError:
        return None


def _in_container() -> bool:
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()
