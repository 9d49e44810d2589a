"""Landlock (Linux >= 5.13): a second wall on the file system, TCP, signals and abstract sockets.

Standard library only (runs inside sandbox workers and children). A worker prepares a ``Policy``
once; a sample's child calls its ``restrict`` after its mounts and before its program: from
then on it, and every process it starts, may

- read (files and folder listings) only beneath the folders and files it was given;
- write, create, delete or rename only beneath its private folder (and write ``/dev/null``);
- execute no file at all (shared libraries still load: that is ``mmap``, not ``execve``);
- bind or connect no TCP socket (ABI >= 4);
- signal, and connect to abstract Unix sockets of, only processes inside its own sandbox
  (ABI >= 6): not its worker, not the user's other processes.

Landlock also forbids it to ptrace (or read the ``/proc/PID/environ``, ``mem``, ... of) any
process outside its sandbox, and to change its mounts. It needs no privilege, only
``no_new_privs``, which the caller sets. Where the kernel has no Landlock (``abi_version()``
is 0) nothing is restricted here, and the isolation says so.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable

from evaluation.sandbox.syscalls import call

_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # what a file rule may hold
READ = READ_FILE | READ_DIR
_WRITES = WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO
_WRITES |= MAKE_SYM | REFER | TRUNCATE | MAKE_CHAR | MAKE_BLOCK
WRITE = (READ | _WRITES) & ~(MAKE_CHAR | MAKE_BLOCK)  # devices: never


class _RulesetAttr(ctypes.Structure):
    _fields_ = [  # struct landlock_ruleset_attr
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # struct landlock_path_beneath_attr is packed
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled."""
    try:
        return call("landlock_create_ruleset", None, 0, _CREATE_RULESET_VERSION)
    except OSError:
        return 0


def handled_fs(abi: int) -> int:
    """Every file-system right this ABI knows (what the ruleset denies unless a rule allows)."""
    return _FS_BY_ABI[max(version for version in _FS_BY_ABI if version <= abi)]


class Policy:
    """A worker's rules, made once in the worker; a sample's child restricts itself with them.

    Two layers, as Landlock stacks them (an access must pass both): the worker's, built once
    with every rule its samples share (reads of ``readable``; writes beneath ``writable`` and
    beneath ``samples_dir``, where each sample's folder is made), and the sample's own, which
    handles writes only and allows them in its folder (and ``writable``). A sample given more
    to read gets one layer of its own instead, with every rule (rare: it costs a rule each).
    """

    def __init__(
        self, abi: int, readable: Iterable[str], writable: Iterable[str], samples_dir: str
    ) -> None:
        self.abi = abi
        self.handled = handled_fs(abi)
        self.rules = [r for p in readable if (r := self._rule(p, READ)) is not None]
        self.rules += [r for p in writable if (r := self._rule(p, WRITE)) is not None]
        samples = self._rule(samples_dir, WRITE)
        self.shared = self._ruleset(self.handled, [*self.rules, samples])
        if samples is not None:
            os.close(samples.parent_fd)
        # Made here too, so that a sample's child has little left to do (and to copy).
        self.write_attr = _RulesetAttr(self.handled & _WRITES, 0, 0)
        self.writes = [
            _PathBeneathAttr(rule.allowed_access & _WRITES, rule.parent_fd)
            for rule in self.rules
            if rule.allowed_access & _WRITES
        ]

    def restrict(self, readable: list[str], own_folder: str) -> None:
        """Restrict this thread (and what it starts): reads of the shared ``readable`` and of
        ``readable``; writes in ``own_folder`` and the shared ``writable``. The caller must
        have set ``no_new_privs``; ``OSError`` if the kernel refuses."""
        own = [self._rule(own_folder, WRITE)]
        try:
            if readable:
                own += [self._rule(path, READ) for path in readable]
                self._enforce(self._ruleset(self.handled, [*self.rules, *own]))
                return
            call("landlock_restrict_self", self.shared, 0)
            attr = self.write_attr
            ruleset = call("landlock_create_ruleset", ctypes.byref(attr), ctypes.sizeof(attr), 0)
            for rule in [*own, *self.writes]:
                if rule is not None:
                    rule.allowed_access &= attr.handled_access_fs
                    call("landlock_add_rule", ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
            self._enforce(ruleset)
        finally:
            for rule in own:
                if rule is not None:
                    os.close(rule.parent_fd)

    def _ruleset(self, handled: int, rules: list[_PathBeneathAttr | None]) -> int:
        """A new ruleset (a descriptor) denying ``handled`` files, all TCP and signals outside
        but where ``rules`` allow."""
        attr = _RulesetAttr(handled, 0, 0)
        if self.abi >= 4:
            attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP  # and no rule allows either
        if self.abi >= 6:
            attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        ruleset = call("landlock_create_ruleset", ctypes.byref(attr), ctypes.sizeof(attr), 0)
        for rule in rules:
            if rule is not None:
                rule.allowed_access &= handled
                call("landlock_add_rule", ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
        return ruleset

    @staticmethod
    def _enforce(ruleset: int) -> None:
        try:
            call("landlock_restrict_self", ruleset, 0)
        finally:
            os.close(ruleset)

    def _rule(self, path: str, access: int) -> _PathBeneathAttr | None:
        """The rule for ``path``, holding a descriptor of it; None when nothing is there."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return None
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FILE_ONLY  # the kernel refuses folder rights on a file
        return _PathBeneathAttr(access & self.handled, fd)
