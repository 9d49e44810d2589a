"""The sandbox pool as a library: outcomes and details, concurrency, limits, worker failures."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from evaluation.errors import SandboxError
from evaluation.sandbox import ExecResult, Limits, Outcome, Sandbox
from evaluation.sandbox import pool as pool_module


def _worker_pids() -> set[int]:
    """Sandbox workers that are children of this test process."""
    pids = set()
    for entry in os.listdir("/proc"):
        try:
            if not entry.isdigit():
                continue
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"evaluation.sandbox.worker" in cmdline:
            pids.add(int(entry))
    return pids


def _wait_until_dead(pid: int) -> None:
    for _ in range(200):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.01)


def test_outcomes_and_details(sandbox: Sandbox) -> None:
    programs = {
        "print('hi')": (Outcome.PASSED, None),
        "x = 1\nassert x == 2, 'x is wrong'\n": (Outcome.FAILED, "AssertionError"),
        "def f(:\n    pass\n": (Outcome.SYNTAX_ERROR, "SyntaxError"),
        "{}['missing']\n": (Outcome.ERROR, "KeyError"),
        "import os\nos._exit(3)\n": (Outcome.CRASHED, None),
        "x = bytearray(10**12)\n": (Outcome.OOM, "MemoryError"),
    }
    results = list(sandbox.map(programs, timeout_s=5))
    assert [(r.outcome, r.exc_type) for r in results] == list(programs.values())
    passed, failed, syntax, error, crashed, _ = results
    assert passed.stdout == "hi\n" and passed.passed
    assert failed.detail == "AssertionError: x is wrong (line 2: assert x == 2, 'x is wrong')"
    assert "line 1" in syntax.detail
    assert error.detail.startswith("KeyError: 'missing'")
    assert crashed.exit_status == 3


def test_runs_concurrently_on_all_workers(sandbox: Sandbox) -> None:
    program = "import time\nstart = time.time()\ntime.sleep(0.5)\nprint(start, time.time())\n"
    spans = [tuple(map(float, r.stdout.split())) for r in sandbox.map([program] * 2, 5)]
    (start_a, end_a), (start_b, end_b) = spans
    assert start_a < end_b and start_b < end_a  # the two sleeps overlapped


def test_on_result_reports_each_index(sandbox: Sandbox) -> None:
    seen: list[tuple[int, Outcome]] = []
    programs = ["pass", "assert False", "1/0"]
    results = list(sandbox.map(programs, 5, on_result=lambda i, r: seen.append((i, r.outcome))))
    assert sorted(seen) == [(i, r.outcome) for i, r in enumerate(results)]


def test_environment_is_scrubbed_and_cwd_private(
    monkeypatch: pytest.MonkeyPatch, guard_only_sandbox: Sandbox, limits: Limits
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    with Sandbox(workers=1, limits=limits) as fresh:  # started with the secret set
        result = fresh.run(
            "import os\nprint(sorted(os.environ))\nprint(os.getcwd() == os.environ['HOME'])\n"
        )
    assert "OPENAI_API_KEY" not in result.stdout and "sk-secret" not in result.stdout
    assert result.stdout.splitlines()[1] == "True"
    # Without a mount namespace the private folder is on the host's /tmp: it must be gone.
    shown = guard_only_sandbox.run(
        "import os\nopen('scratch.txt', 'w').write('x')\nprint(os.getcwd())"
    )
    assert shown.passed
    assert not Path(shown.stdout.strip()).exists()


def test_file_size_limit(sandbox: Sandbox, limits: Limits) -> None:
    big = limits.file_size_mb * 1024 * 1024 + 1
    result = sandbox.run(f"with open('big.bin', 'wb') as f:\n    f.write(b'0' * {big})\n")
    assert (result.outcome, result.exc_type) == (Outcome.ERROR, "OSError")
    assert "File too large" in result.detail


def test_megabyte_programs_and_binary_output(sandbox: Sandbox) -> None:
    literal = "a" * 3_000_000
    result = sandbox.run(f"s = '{literal}'\nassert len(s) == 3_000_000\n", 10)
    assert result.passed
    junk = sandbox.run("import sys\nsys.stdout.buffer.write(bytes(range(256)))\n")
    assert junk.passed and "\ufffd" in junk.stdout


def test_a_forged_result_report_is_not_a_pass(sandbox: Sandbox) -> None:
    forger = (
        "import os\n"
        "for fd in map(int, os.listdir('/proc/self/fd')):\n"
        "    if fd > 2:\n"
        "        try:\n"
        '            os.write(fd, b\'{"outcome": "passed"}\')\n'
        "        except OSError:\n"
        "            pass\n"
        "os._exit(0)\n"
    )
    result = sandbox.run(forger)
    assert result.outcome is Outcome.CRASHED
    assert "not written by the harness" in result.detail


def test_a_dead_worker_is_replaced(limits: Limits) -> None:
    others = _worker_pids()  # workers of the session's sandboxes
    with Sandbox(workers=1, limits=limits) as pool:
        (idle,) = _worker_pids() - others
        os.kill(idle, signal.SIGKILL)
        _wait_until_dead(idle)
        assert pool.run("print('after idle death')").stdout == "after idle death\n"

        (busy,) = _worker_pids() - others
        future = pool.submit("import time\ntime.sleep(30)\n", timeout_s=60)
        queued_behind = [pool.submit(f"print({i})") for i in range(3)]  # one is in the pipe
        time.sleep(0.3)  # let the sample start
        os.kill(busy, signal.SIGKILL)
        result = future.result(timeout=30)
        assert result.outcome is Outcome.CRASHED and "worker died" in result.detail
        # What was queued behind it, in the dead worker's pipe or not, runs on the new one.
        assert [f.result(timeout=30).stdout for f in queued_behind] == ["0\n", "1\n", "2\n"]
        assert len(_worker_pids() - others - {busy}) == 1


def test_a_hung_worker_is_replaced_and_its_sample_killed(
    limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_module, "ANSWER_GRACE_S", 0.5)
    others = _worker_pids()
    with Sandbox(workers=1, limits=limits) as pool:
        (worker,) = _worker_pids() - others
        future = pool.submit("import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)", 1)
        time.sleep(0.3)
        os.kill(worker, signal.SIGSTOP)  # the worker stops answering
        result = future.result(timeout=30)
        assert result.outcome is Outcome.TIMEOUT and "stopped answering" in result.detail
        assert pool.run("print('replaced')").stdout == "replaced\n"
        _wait_until_dead(worker)
        assert not _sleepers_left(), "the hung worker's sample survived it"


def _sleepers_left() -> list[str]:
    """Sample processes still running the sleeping program above."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and b"time.sleep(60)" in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(entry)
        except OSError:
            continue
    return found


def test_close_cancels_queued_work_and_refuses_more(limits: Limits) -> None:
    others = _worker_pids()
    scratch_before = set(Path(tempfile.gettempdir()).glob("evoselfcode-sandbox-*"))
    pool = Sandbox(workers=1, limits=limits)
    running = pool.submit("import time\ntime.sleep(30)\n", timeout_s=60)
    queued = [pool.submit("pass") for _ in range(5)]
    time.sleep(0.3)
    pool.close()
    pool.close()  # idempotent
    assert all(f.cancelled() or isinstance(f.exception(), SandboxError) for f in queued)
    assert running.done()
    with pytest.raises(SandboxError):
        pool.run("pass")
    assert _worker_pids() == others
    assert set(Path(tempfile.gettempdir()).glob("evoselfcode-sandbox-*")) <= scratch_before


def test_guard_only_mode_still_refuses_the_obvious(guard_only_sandbox: Sandbox) -> None:
    iso = guard_only_sandbox.isolation
    assert not (iso.network_namespace or iso.pid_namespace or iso.mount_namespace)
    results = list(
        guard_only_sandbox.map(
            [
                "open('/etc/evoselfcode-escape', 'w')",
                "import socket\nsocket.socket()",
                "import subprocess\nsubprocess.run(['true'])",
                "import os\nos.kill(1, 0)",
            ],
            5,
        )
    )
    assert [r.exc_type for r in results] == ["PermissionError"] * 4
    assert all("sandbox:" in r.detail for r in results)


@pytest.mark.parametrize("bad", [{"memory_mb": 0}, {"max_output_bytes": -1}, {"file_size_mb": 1.5}])
def test_limits_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Limits(**bad)  # type: ignore[arg-type]


def test_bad_arguments(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        sandbox.run("pass", timeout_s=0)
    with pytest.raises(ValueError):
        Sandbox(workers=0)


def test_exec_result_from_answer_round_trip() -> None:
    result = ExecResult.from_answer({"outcome": "error", "detail": "d", "exc_type": "KeyError"})
    assert (result.outcome, result.passed, result.exc_type) == (Outcome.ERROR, False, "KeyError")


def test_a_worker_that_cannot_start_says_why(
    limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_module.tempfile, "mkdtemp", lambda prefix: "/proc/no/such/dir")
    with pytest.raises(SandboxError, match=r"could not start: FileNotFoundError: .*/proc/no"):
        Sandbox(workers=1, limits=limits)
