"""A private root for samples without root privileges: a read-only view of what they must read.

Standard library only (runs inside sandbox workers and their children). Used in the mount
namespace of an unprivileged user namespace (``userns.py``), as bubblewrap does: a fresh tmpfs
becomes the root (``pivot_root``), and nothing of the host's tree is left in it but

- the system's programs' folders (/usr, /lib*, /bin, /sbin: shared libraries that extension
  modules load) and the few files of /etc the dynamic loader reads, read-only;
- the folders on the samples' ``sys.path`` and the folders a sample was given to read,
  read-only, each at its own path (nothing else of their parents: not the user's home);
- /dev with null, zero, full, random and urandom only; a /proc of the worker's own PID
  namespace (where the kernel allows mounting one);
- the worker's scratch folder, a fresh tmpfs in which each sample gets its own folder.

The root itself is read-only. The originals are read before the old root is detached, so a
folder the user may read is shown wherever it is, /tmp included.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass

from evaluation.sandbox.mounts import TMPFS_OPTIONS, is_inside
from evaluation.sandbox.syscalls import (
    MOUNT_ATTR_NODEV,
    MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID,
    MOUNT_ATTR_RDONLY,
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    mount,
    pivot_root_here,
    set_mount_attributes,
)

# /etc/ld.so.cache: where the dynamic loader finds the libraries extension modules need.
SYSTEM_PATHS = (
    *("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"),
    *("/etc/ld.so.cache", "/etc/localtime"),
)
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1"}
_DEV_LINKS["stderr"] = "/proc/self/fd/2"
_ROOT_OPTIONS = "mode=0755,size=16m"  # holds only folders made to mount on
_READ_ONLY = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV


@dataclass(frozen=True)
class View:
    """What a private root shows (see the module docstring)."""

    read_only: tuple[str, ...]  # real paths of folders and files, outermost only
    symlinks: tuple[tuple[str, str], ...]  # (path, target): /lib -> usr/lib and the like
    scratch: str  # a fresh tmpfs at this path, for the samples' own folders

    @classmethod
    def plan(cls, python_paths: Iterable[str], scratch: str) -> View:
        """The view for what is on ``sys.path`` (folders, or zip files; what exists) and the
        system's folders."""
        links, shown = [], []
        for path in SYSTEM_PATHS:
            if os.path.islink(path):
                links.append((path, os.readlink(path)))
            elif os.path.exists(path):
                shown.append(path)
        shown += [os.path.realpath(p) for p in python_paths if os.path.exists(p)]
        return cls(_outermost(shown), tuple(links), scratch)

    def with_readable(self, readable: Iterable[str]) -> View:
        """This view, plus folders a sample was given to read (real, absolute paths)."""
        return View(_outermost([*self.read_only, *readable]), self.symlinks, self.scratch)

    def enter(self, staging: str) -> bool:
        """Build the view on a tmpfs mounted at ``staging`` and make it this mount
        namespace's root. Needs a mount namespace of the caller's own (and its
        capabilities). True if a /proc of the caller's PID namespace could be mounted."""
        mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, _ROOT_OPTIONS)
        for path in self.read_only:
            _bind_read_only(path, staging + path)
        for path, target in self.symlinks:
            os.symlink(target, staging + path)
        _make_dev(staging + "/dev")
        proc = _mount_proc(staging + "/proc")
        _make_folder(staging + self.scratch)
        mount("tmpfs", staging + self.scratch, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_OPTIONS)
        os.chdir(staging)
        pivot_root_here()
        mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        return proc

    def landlock_readable(self, proc: bool) -> list[str]:
        """What a sample in this view may read (Landlock's rules; the view is the first wall)."""
        return [*self.read_only, *DEVICES, *(["/proc"] if proc else [])]


def _outermost(paths: Iterable[str]) -> tuple[str, ...]:
    unique = sorted(set(paths))
    return tuple(p for p in unique if not any(is_inside(p, other) for other in unique))


def _make_folder(path: str) -> None:
    os.makedirs(path, 0o755, exist_ok=True)


def _make_mount_point(source: str, target: str) -> None:
    """An empty folder, or an empty file for a file, at ``target`` (parents made)."""
    if os.path.isdir(source):
        _make_folder(target)
    else:
        _make_folder(os.path.dirname(target))
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def _bind_read_only(source: str, target: str) -> None:
    _make_mount_point(source, target)
    mount(source, target, None, MS_BIND | MS_REC)
    try:
        set_mount_attributes(target, _READ_ONLY)  # every mount below it too
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            raise
        _remount_read_only(target)  # Linux < 5.12: the top mount only


_KEPT_ON_REMOUNT = (
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)


def _remount_read_only(target: str) -> None:
    """A remount must repeat the flags the kernel locked on the original, or fail."""
    flags = os.statvfs(target).f_flag
    kept = MS_NOSUID | MS_NODEV
    for statvfs_flag, mount_flag in _KEPT_ON_REMOUNT:
        kept |= mount_flag if flags & statvfs_flag else 0
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def _make_dev(dev: str) -> None:
    """A /dev of a few harmless devices, each the host's, shown by a bind mount."""
    _make_folder(dev)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for device in DEVICES:
        target = dev + device.removeprefix("/dev")
        _make_mount_point(device, target)
        mount(device, target, None, MS_BIND)
        with contextlib.suppress(OSError):  # Linux < 5.12; the device is harmless anyway
            set_mount_attributes(target, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)
    for name, target in _DEV_LINKS.items():
        os.symlink(target, f"{dev}/{name}")
    # Read-only, the top only: its devices stay writable (a device ignores its mount's flag).
    mount(None, dev, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)


def _mount_proc(target: str) -> bool:
    """A /proc of this PID namespace; the kernel refuses it where the host's /proc is partly
    hidden (some containers), and then there is none."""
    _make_folder(target)
    with contextlib.suppress(OSError):
        mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return True
    return False
