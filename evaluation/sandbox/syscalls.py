"""The few Linux system calls the sandbox makes through libc, with their flag values.

Standard library only (runs inside sandbox workers). Python's ``os`` module has ``unshare``
and ``setns`` only from 3.12, and no ``mount``, ``pivot_root`` or Landlock at all. The new
mount API (``open_tree``, ``move_mount``) needs Linux >= 5.2, ``mount_setattr`` 5.12.
"""

from __future__ import annotations

import ctypes
import errno
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MNT_DETACH = 0x2
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8

AT_FDCWD = -100
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
# glibc >= 2.36 wraps the new mount API, and no glibc wraps pivot_root or Landlock: they are
# reached by number. The numbers from 428 on are the same on every architecture but alpha and
# mips; pivot_root's is older and differs.
_SYSCALL_NUMBERS = {
    "open_tree": 428,
    "move_mount": 429,
    "mount_setattr": 442,
    "landlock_create_ruleset": 444,
    "landlock_add_rule": 445,
    "landlock_restrict_self": 446,
}
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "loongarch64": 41}
MACHINE = os.uname().machine
if MACHINE in _PIVOT_ROOT:
    _SYSCALL_NUMBERS["pivot_root"] = _PIVOT_ROOT[MACHINE]

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


def umount_detached(target: str) -> None:
    """Detach the mount at ``target`` and everything below it (``umount2(MNT_DETACH)``)."""
    call("umount2", os.fsencode(target), MNT_DETACH)


def pivot_root_here() -> None:
    """Make the current folder the root of this mount namespace and drop the old root.

    ``pivot_root(".", ".")`` stacks the old root on the new one; detaching it leaves only the
    new one, with nothing of the old tree reachable (as in runc and bubblewrap)."""
    call("pivot_root", b".", b".")
    umount_detached(".")
    os.chdir("/")


class _MountAttr(ctypes.Structure):
    _fields_ = [  # struct mount_attr
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def set_mount_attributes(target: str, attributes: int) -> None:
    """Add ``MOUNT_ATTR_*`` flags to the mount at ``target`` and every mount below it.

    Unlike a remount, this leaves every other flag as it was: a remount inside a user
    namespace must repeat the flags the kernel locked (atime, nodev, ...) or fail."""
    attr = _MountAttr(attributes, 0, 0, 0)
    call(
        "mount_setattr",
        AT_FDCWD,
        os.fsencode(target),
        AT_RECURSIVE,
        ctypes.byref(attr),
        ctypes.sizeof(attr),
    )
