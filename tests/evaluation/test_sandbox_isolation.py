"""What a sandbox's isolation means, and the pieces that set it up, checked without a pool:
levels and messages, what a refused kernel is told to allow, the seccomp program, Landlock's
rights, the private root's plan and the platforms the pool refuses."""

from __future__ import annotations

import struct

import pytest

from evaluation.sandbox import landlock, seccomp, userns
from evaluation.sandbox.isolation import ALLOW_FLAG, ALLOW_SETTING, Isolation, platform_refusal
from evaluation.sandbox.view import View

AS_ROOT = Isolation(True, True, True, 65534, landlock_abi=7, seccomp=True)
USER_NAMESPACE = Isolation(
    True, True, True, None, user_namespace=True, private_root=True, landlock_abi=7, seccomp=True
)
REFUSED = Isolation(
    False, False, False, None, landlock_abi=7, seccomp=True, problems=("user namespaces: off",)
)
NOTHING = Isolation(False, False, False, None)


@pytest.mark.parametrize(
    ("isolation", "level"),
    [(AS_ROOT, "full"), (USER_NAMESPACE, "full"), (REFUSED, "partial"), (NOTHING, "guard-only")],
)
def test_levels(isolation: Isolation, level: str) -> None:
    assert isolation.level == level
    assert isolation.describe().startswith(f"{level} isolation (")
    assert Isolation.from_json(isolation.to_json()) == isolation
    assert isolation.to_json()["level"] == level


def test_full_isolation_warns_of_nothing_and_refuses_nothing() -> None:
    for isolation in (AS_ROOT, USER_NAMESPACE):
        assert isolation.warning() is None and isolation.refusal(allowed=False) is None
    assert "private read-only root" in USER_NAMESPACE.describe()
    assert "uid 65534" in AS_ROOT.describe()


def test_less_than_full_says_what_is_missing_and_how_to_allow_it() -> None:
    warning = REFUSED.warning()
    assert warning is not None and warning.startswith("WARNING: the sandbox is not fully")
    assert "user namespaces: off" in warning and "Landlock, seccomp" in warning
    refusal = REFUSED.refusal(allowed=False)
    assert refusal is not None and ALLOW_SETTING in refusal and ALLOW_FLAG in refusal
    assert REFUSED.refusal(allowed=True) is None
    assert "ctypes goes around it" in (NOTHING.warning() or "")


def test_refusal_reasons_name_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    sysctls = {
        "kernel/apparmor_restrict_unprivileged_userns": "1",
        "user/max_user_namespaces": "0",
    }
    monkeypatch.setattr(userns, "_sysctl", sysctls.get)
    reasons = userns.refusal_reasons("[Errno 1] unshare: EPERM", "/usr/bin/python3")
    assert len(reasons) == 2 and all("the kernel said: [Errno 1]" in r for r in reasons)
    assert "user.max_user_namespaces=15000" in reasons[0]
    assert "apparmor_restrict_unprivileged_userns=0" in reasons[1]
    assert "profile evoselfcode-python" in reasons[1] and "userns," in reasons[1]
    monkeypatch.setattr(userns, "_sysctl", lambda name: None)
    monkeypatch.setattr(userns, "_in_container", lambda: True)
    (container,) = userns.refusal_reasons("EPERM", "/usr/bin/python3")
    assert "seccomp=unconfined" in container


def _instructions(program: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_seccomp_program_checks_its_abi_and_denies_the_list(machine: str) -> None:
    program = seccomp.build_filter(unix_sockets=True, machine=machine)
    assert program is not None
    code = _instructions(program)
    assert code[0] == (0x20, 0, 0, 4)  # load the architecture
    audit_arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}[machine]
    assert code[1][0] == 0x15 and code[1][3] == audit_arch
    compared = {k for op, _, _, k in code if op == 0x15}
    numbers = seccomp._numbers(machine)
    assert {numbers[name] for name in ("ptrace", "mount", "unshare", "bpf", "setsid")} <= compared
    assert code[-1] == (0x06, 0, 0, 0x80000000)  # a foreign ABI kills the process
    x32_check = (0x35, code[3][1], 0, 0x40000000)
    assert (code[3] == x32_check) == (machine == "x86_64")


def test_no_unix_sockets_means_no_socket_family_at_all() -> None:
    allowing = seccomp.build_filter(unix_sockets=True, machine="x86_64") or b""
    refusing = seccomp.build_filter(unix_sockets=False, machine="x86_64") or b""
    assert (0x15, 1, 0) in {c[:3] for c in _instructions(allowing)}
    assert len(allowing) == len(refusing) and allowing != refusing
    assert seccomp.build_filter(unix_sockets=True, machine="riscv64") is None


def test_landlock_rights_grow_with_the_abi() -> None:
    assert landlock.handled_fs(1) == (1 << 13) - 1
    assert landlock.handled_fs(4) == landlock.handled_fs(3) == (1 << 15) - 1
    assert landlock.handled_fs(7) == (1 << 16) - 1
    assert not landlock.WRITE & landlock.EXECUTE  # nothing may be executed, anywhere


def test_the_private_root_shows_only_outermost_folders(tmp_path) -> None:
    inner = tmp_path / "lib" / "python3" / "site-packages"
    inner.mkdir(parents=True)
    view = View.plan([str(tmp_path / "lib"), str(inner), "/no/such/folder"], "/scratch/x")
    assert str(tmp_path / "lib") in view.read_only and str(inner) not in view.read_only
    assert "/no/such/folder" not in view.read_only
    assert "/usr" in view.read_only or ("/usr" in dict(view.symlinks))
    shown = view.with_readable([str(tmp_path / "project")])
    assert str(tmp_path / "project") in shown.read_only
    assert "/proc" in view.landlock_readable(proc=True)
    assert "/proc" not in view.landlock_readable(proc=False)


@pytest.mark.parametrize(
    ("platform", "said"),
    [("linux", None), ("win32", "WSL 2"), ("darwin", "Seatbelt"), ("freebsd14", "needs Linux")],
)
def test_other_platforms_are_refused_with_a_reason(platform: str, said: str | None) -> None:
    refusal = platform_refusal(platform)
    assert refusal is None if said is None else said in (refusal or "")
