"""A seccomp filter for sandbox samples: the system calls no test needs fail with ``EPERM``.

Standard library only (runs inside sandbox workers). The worker builds the filter once
(``build_filter``, ``Filter``); each sample's child installs it (``Filter.install``) just
before its program runs, after ``no_new_privs``. It is the kernel-side list that Codex CLI's
Linux sandbox, bubblewrap and nsjail keep, cut to what a Python sample could abuse:

- debugging other processes: ``ptrace``, ``process_vm_readv/writev``;
- changing the file-system view or leaving the namespaces: ``mount`` and the new mount API,
  ``umount2``, ``pivot_root``, ``chroot``, ``unshare``, ``setns``, and ``clone`` with any
  namespace flag (``clone3``, whose flags a filter cannot read, answers ``ENOSYS``, so the C
  library falls back to ``clone``);
- the kernel's wider attack surface: ``bpf``, ``perf_event_open``, ``userfaultfd``,
  ``io_uring_*`` (its requests would bypass this filter), ``keyctl``/``add_key``/
  ``request_key``, module loading, ``kexec_*``, ``reboot``, swap, ``acct``, ``quotactl``,
  ``syslog``, file handles, ``fanotify_init``, ``iopl``/``ioperm``/``uselib``;
- leaving its process group (``setsid``, ``setpgid``), so that killing the group kills all;
- ``kill(-1, …)`` (every process the user owns), ``TIOCSTI``/``TIOCLINUX`` (typing into a
  terminal), and sockets of any family but ``AF_UNIX`` (with ``unix_sockets=False``, none at
  all: without a private file-system view a path socket reaches the user's session bus).

Foreign system-call ABIs (32-bit x86 on x86-64, x32) are refused too, or they would go
around the numbers checked here. Only x86-64 and AArch64 are known; elsewhere ``build_filter``
returns None and the isolation reports no seccomp.
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct

from evaluation.sandbox.syscalls import MACHINE, PR_SET_NO_NEW_PRIVS, call

_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_RET_ALLOW, _RET_ERRNO, _RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_NR, _ARCH, _ARG0, _ARG1 = 0, 4, 16, 24  # offsets in struct seccomp_data (little-endian)
_X32_BIT = 0x40000000
# CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | NET
_NAMESPACE_FLAGS = 0x7E020000
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C

# System call numbers: (x86-64, AArch64); None where the call does not exist.
_NUMBERS: dict[str, tuple[int, int | None]] = {
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "unshare": (272, 97),
    "setns": (308, 268),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "reboot": (169, 142),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "acct": (163, 89),
    "quotactl": (179, 60),
    "syslog": (103, 116),
    "vhangup": (153, 58),
    "name_to_handle_at": (303, 264),
    "open_by_handle_at": (304, 265),
    "fanotify_init": (300, 262),
    "lookup_dcookie": (212, 18),
    "setsid": (112, 157),
    "setpgid": (109, 154),
    "iopl": (172, None),
    "ioperm": (173, None),
    "uselib": (134, None),
}
_SPECIAL = {
    "clone": (56, 220),
    "clone3": (435, 435),
    "socket": (41, 198),
    "kill": (62, 129),
    "ioctl": (16, 29),
}
DENIED = tuple(_NUMBERS)
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}  # which column of the tables


def _numbers(machine: str) -> dict[str, int]:
    column = list(_AUDIT_ARCH).index(machine)
    table = {**_NUMBERS, **_SPECIAL}
    return {name: pair[column] for name, pair in table.items() if pair[column] is not None}


def build_filter(*, unix_sockets: bool, machine: str = MACHINE) -> bytes | None:
    """The BPF program (``struct sock_filter[]``) for this machine, or None where unknown."""
    if machine not in _AUDIT_ARCH:
        return None
    number = _numbers(machine)
    unix = socket.AF_UNIX if unix_sockets else 0xFFFFFFFF  # no family is 0xFFFFFFFF
    program: list[_Instruction | str] = [  # a string labels the next instruction
        _load(_ARCH),
        (_JEQ, None, "kill", _AUDIT_ARCH[machine]),
        _load(_NR),
        *([_jump(_JGE, _X32_BIT, "enosys")] if machine == "x86_64" else []),
        _jump(_JEQ, number["clone3"], "enosys"),
        _jump(_JEQ, number["clone"], "clone"),
        _jump(_JEQ, number["socket"], "socket"),
        _jump(_JEQ, number["kill"], "kill()"),
        _jump(_JEQ, number["ioctl"], "ioctl"),
        *(_jump(_JEQ, number[name], "eperm") for name in DENIED if name in number),
        _return(_RET_ALLOW),
        *("clone", _load(_ARG0), _jump(_JSET, _NAMESPACE_FLAGS, "eperm"), _return(_RET_ALLOW)),
        *("socket", _load(_ARG0), _jump(_JEQ, unix, "allow"), _return(_EPERM)),
        *("kill()", _load(_ARG0), _jump(_JEQ, 0xFFFFFFFF, "eperm"), _return(_RET_ALLOW)),
        *("ioctl", _load(_ARG1), _jump(_JEQ, _TIOCSTI, "eperm"), _jump(_JEQ, _TIOCLINUX, "eperm")),
        *("allow", _return(_RET_ALLOW)),
        *("eperm", _return(_EPERM)),
        *("enosys", _return(_RET_ERRNO | errno.ENOSYS)),
        *("kill", _return(_RET_KILL_PROCESS)),
    ]
    return _assemble(program)


_Instruction = tuple[int, str | None, str | None, int]  # (code, label if true, if false, k)
_EPERM = _RET_ERRNO | errno.EPERM


def _load(offset: int) -> _Instruction:
    return (_LD_ABS, None, None, offset)


def _jump(condition: int, value: int, label: str) -> _Instruction:
    return (condition, label, None, value)


def _return(action: int) -> _Instruction:
    return (_RET, None, None, action)


def _assemble(program: list[_Instruction | str]) -> bytes:
    """Resolve the labels into relative jumps and pack ``struct sock_filter``s."""
    labels: dict[str, int] = {}
    code: list[_Instruction] = []
    for item in program:
        if isinstance(item, str):
            labels[item] = len(code)
        else:
            code.append(item)
    packed = bytearray()
    for index, (op, true, false, k) in enumerate(code):
        jt = labels[true] - index - 1 if true else 0
        jf = labels[false] - index - 1 if false else 0
        assert 0 <= jt < 256 and 0 <= jf < 256, "a jump too long for classic BPF"
        packed += struct.pack("=HBBI", op, jt, jf, k)
    return bytes(packed)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Filter:
    """A program made ready once (in the worker): a sample's child installs it with one call."""

    def __init__(self, program: bytes) -> None:
        self._buffer = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.cast(self._buffer, ctypes.c_void_p))

    def install(self) -> None:
        """Install it on this thread, for good; ``no_new_privs`` must be set already."""
        call("prctl", _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(self._fprog), 0, 0)


def install(program: bytes) -> None:
    """Set ``no_new_privs`` and install ``program`` on this thread, for good."""
    call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    Filter(program).install()
