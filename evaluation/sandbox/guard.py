"""An in-process guard for sandboxed programs: a ``sys.addaudithook`` hook. NOT isolation.

Standard library only (runs inside sandbox children). It raises ``PermissionError`` when the
program, through Python's own APIs, tries to:

- write, create, delete, rename, link, chmod/chown or truncate a path outside its private
  temporary folder (``/dev/null`` excepted), change into a directory outside it, or open a
  directory outside it (so ``dir_fd``-relative calls, which the audit events do not resolve,
  start from inside);
- create a socket other than a Unix-domain one, connect or send to a Unix socket outside
  its folder, or resolve a host name;
- start a process (``fork``, ``exec*``, ``posix_spawn``, ``system``, ``subprocess``);
- send a signal to any process but itself or its own process group.

It is on in every mode so that a verdict does not depend on the host (and its errors say
what was refused), and it is the only protection where the kernel gives none (no namespaces,
no Landlock, no seccomp). It is not a security boundary: ``ctypes``, a C extension, or code
that tampers with the interpreter goes around it, and reading files is not restricted. The
kernel-level isolation is described in ``jail.py``, what holds in each setup in the package
docstring.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_ALWAYS_WRITABLE = frozenset({"/dev/null"})
_PROCESS_EVENTS = frozenset(
    {"os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system"}
    | {"subprocess.Popen", "pty.spawn", "os.startfile"}
)
_NAME_LOOKUPS = frozenset(
    {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"}
    | {"socket.gethostbyaddr", "socket.getnameinfo", "socket.sethostname"}
)
# event -> positions of (path, dir_fd) pairs among the event's arguments
_PATH_EVENTS: dict[str, tuple[tuple[int, int | None], ...]] = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)),
    "os.link": ((0, 2), (1, 3)),
    "os.symlink": ((1, 2),),
    "os.truncate": ((0, None),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.utime": ((0, 3),),
    "os.setxattr": ((0, None),),
    "os.removexattr": ((0, None),),
    "os.chdir": ((0, None),),
    "shutil.rmtree": ((0, 1),),
    "shutil.move": ((0, None), (1, None)),
}


def install_guard(sandbox_dir: str) -> None:
    """Install the hook for the rest of this process's life (audit hooks cannot be removed)."""
    sys.addaudithook(_make_hook(os.path.realpath(sandbox_dir)))


def _make_hook(root: str) -> Callable[[str, tuple[Any, ...]], None]:
    prefix = root + os.sep
    realpath, isdir, join, readlink = os.path.realpath, os.path.isdir, os.path.join, os.readlink
    own_pid, own_group = os.getpid(), os.getpgid(0)

    def resolve(path: Any, dir_fd: Any = None) -> str | None:
        """The absolute real path, or None for an already open file descriptor."""
        if isinstance(path, int):
            return None
        text = os.fsdecode(path)
        if dir_fd not in (None, -1) and not os.path.isabs(text):
            text = join(readlink(f"/proc/self/fd/{dir_fd}"), text)
        return realpath(text)

    def inside(resolved: str | None) -> bool:
        return resolved is None or resolved == root or resolved.startswith(prefix)

    def refuse(what: str) -> None:
        raise PermissionError(f"sandbox: {what} is not allowed")

    def check_open(args: tuple[Any, ...]) -> None:
        path, mode, flags = args[0], args[1], args[2]
        resolved = resolve(path)
        if inside(resolved) or resolved in _ALWAYS_WRITABLE:
            return
        writing = (flags or 0) & _WRITE_FLAGS or (
            isinstance(mode, str) and any(c in mode for c in "wax+")
        )
        if writing:
            refuse(f"writing {resolved}")
        if isdir(resolved):  # type: ignore[arg-type]
            refuse(f"opening the directory {resolved}")

    def check_paths(event: str, args: tuple[Any, ...]) -> None:
        for path_at, fd_at in _PATH_EVENTS[event]:
            dir_fd = args[fd_at] if fd_at is not None and fd_at < len(args) else None
            resolved = resolve(args[path_at], dir_fd)
            if not inside(resolved):
                refuse(f"{event} on {resolved}")

    def check_socket(event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.__new__":
            if args[1] != socket.AF_UNIX:
                refuse("network access")
        elif event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"):
            address = args[1]
            is_path = isinstance(address, (str, bytes)) and address[:1] not in ("\0", b"\0")
            if is_path and inside(resolve(address)):
                return
            refuse(f"{event} to {address!r}")
        elif event in _NAME_LOOKUPS:
            refuse("name resolution")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            check_open(args)
        elif event in _PATH_EVENTS:
            check_paths(event, args)
        elif event.startswith("socket."):
            check_socket(event, args)
        elif event in _PROCESS_EVENTS:
            refuse("starting a process")
        elif event == "os.kill" and args[0] not in (0, own_pid):
            refuse(f"signalling process {args[0]}")
        elif event == "os.killpg" and args[0] != own_group:
            refuse(f"signalling process group {args[0]}")

    return hook
