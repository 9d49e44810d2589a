"""The few Linux system calls the sandbox makes through libc, with their flag values.

Standard library only (runs inside sandbox workers). Python's ``os`` module has ``unshare``
and ``setns`` only from 3.12, and no ``mount`` at all. The new mount API (``open_tree``,
``move_mount``) needs Linux >= 5.2.
"""

from __future__ import annotations

import ctypes
import errno
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1

AT_FDCWD = -100
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
# glibc >= 2.36 wraps the new mount API; older ones reach it by number (the same on every
# architecture but alpha and mips).
_SYSCALL_NUMBERS = {"open_tree": 428, "move_mount": 429}

_libc: ctypes.CDLL | None = None


def call(name: str, *args: object) -> int:
    """Call the libc function ``name``; its result, or ``OSError`` (with errno) when negative."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    function = getattr(_libc, name, None)
    if function is None and name in _SYSCALL_NUMBERS:
        function, args = _libc.syscall, (_SYSCALL_NUMBERS[name], *args)
    if function is None:
        raise OSError(errno.ENOSYS, f"{name}: not in this C library")
    result = function(*args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{name}: {os.strerror(code)}")
    return result


def unshare(flags: int) -> None:
    call("unshare", flags)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """``mount(2)``; ``data`` holds the file system's options (e.g. a tmpfs's size and mode)."""
    encode = os.fsencode
    call(
        "mount",
        None if source is None else encode(source),
        encode(target),
        None if fstype is None else encode(fstype),
        ctypes.c_ulong(flags),
        encode(data) if data else None,
    )


def copy_mount_tree(path: str) -> int:
    """A detached copy of the folder ``path`` and the mounts below it (``open_tree(2)``).

    Unlike a bind mount, the copy can be attached (``attach_mount_tree``) in another mount
    namespace than the one it was taken in: a new one entered since, for instance.
    """
    flags = OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC
    return call("open_tree", AT_FDCWD, os.fsencode(path), flags)


def attach_mount_tree(tree: int, target: str) -> None:
    """Mount the detached tree ``tree`` (from ``copy_mount_tree``) on ``target``."""
    call("move_mount", tree, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH)
