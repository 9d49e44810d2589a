"""A sandbox worker: a long-lived process that runs each sample in a fresh child forked from it.

Standard library only, and nothing heavy: forking a small interpreter takes well under a
millisecond, where starting one takes tens. The host starts it with a scrubbed environment,
sends one request frame per sample on its stdin and reads one answer frame on its stdout
(``protocol.py``). It exits at end of input.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import shutil
import signal
import sys
import time
from typing import Any

from evaluation.sandbox.child import ChildSetup, run_child
from evaluation.sandbox.jail import Jail, fork_into_pid_namespace
from evaluation.sandbox.mounts import MountPlan
from evaluation.sandbox.protocol import Outcome, read_frame, write_frame

# Loaded once here so that samples find them in memory (forked children share the pages).
# Not threading (nor queue), random (nor statistics, tempfile): their after-fork hooks run
# Python code in every child, which copies memory pages and costs more per sample than
# importing them costs the few samples that use them.
PRELOADED_MODULES = (
    *("abc", "array", "base64", "binascii", "bisect", "calendar", "cmath", "collections"),
    *("contextlib", "copy", "dataclasses", "datetime", "decimal", "difflib", "enum"),
    *("fractions", "functools", "hashlib", "heapq", "io", "itertools", "json", "math"),
    *("numbers", "operator", "pprint", "re", "string", "struct", "textwrap", "time"),
    *("types", "typing", "unicodedata", "unittest", "zlib"),
)
_READ_CHUNK = 65536
_MAX_REPORT_BYTES = 65536


def main() -> None:
    config = json.loads(sys.argv[1])
    requests, responses = _take_protocol_fds()
    try:
        runner = _start(config)
    except Exception as exc:  # tell the host why, instead of just dying
        write_frame(responses, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        raise
    write_frame(responses, {"ready": True, "isolation": runner.isolation.to_json()})
    try:
        while (request := read_frame(requests)) is not None:
            readable = request.get("readable_paths") or []
            answer = runner.run(request["program"], float(request["timeout_s"]), readable)
            write_frame(responses, answer)
    finally:
        runner.close()


def _start(config: dict[str, Any]) -> SampleRunner:
    os.umask(0o022)
    os.chdir("/")
    sys.dont_write_bytecode = True
    # sys.path[0] is this package's folder, put there by the bootstrap (``process.py``):
    # samples need nothing of it. '' would be each sample's own folder. The pool's
    # python_paths come first.
    sys.path[:] = [*config["python_paths"], *(p for p in sys.path[1:] if p)]
    os.close(os.pidfd_open(os.getpid()))  # Linux >= 5.3: fail here, not at the first sample
    jail = Jail.set_up(config["namespaces"], list(sys.path), config["scratch"])
    for name in PRELOADED_MODULES:
        importlib.import_module(name)
    # Children would otherwise run collections over the worker's objects, touching (and so
    # copying) most of its memory pages: frozen objects are never collected.
    gc.collect()
    gc.freeze()
    return SampleRunner(jail, config["limits"])


def _take_protocol_fds() -> tuple[int, int]:
    """Move the protocol pipes off fds 0/1 so that nothing printed can corrupt them."""
    requests, responses = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    return requests, responses


class SampleRunner:
    """Runs samples one at a time, each in its own child, folder and (if possible) namespace."""

    def __init__(self, jail: Jail, limits: dict[str, int]) -> None:
        self.jail = jail
        self.isolation = jail.isolation
        self.limits = limits
        self.base_dir = jail.base_dir
        self.nproc_limit = jail.nproc_base + limits["max_processes"]
        self.count = 0

    def close(self) -> None:
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def run(self, program: str, timeout_s: float, readable: list[str]) -> dict[str, Any]:
        """Run one sample; ``readable``: folders it must read."""
        self.count += 1
        sample_dir = os.path.join(self.base_dir, str(self.count))
        os.mkdir(sample_dir, 0o700)
        if self.isolation.sandbox_uid is not None:
            os.chown(sample_dir, self.isolation.sandbox_uid, self.isolation.sandbox_uid)
        try:
            mounts = self.jail.sample_mounts(readable, sample_dir)
            return self._run_in_child(program, timeout_s, sample_dir, mounts, readable)
        finally:
            shutil.rmtree(sample_dir, ignore_errors=True)

    def _run_in_child(
        self,
        program: str,
        timeout_s: float,
        sample_dir: str,
        mounts: MountPlan | None,
        readable: list[str],
    ) -> dict[str, Any]:
        (out_r, out_w), (err_r, err_w), (res_r, res_w) = os.pipe(), os.pipe(), os.pipe()
        setup = ChildSetup(
            program=program,
            sample_dir=sample_dir,
            jail=self.jail,
            mounts=mounts,
            readable=readable,
            stdout_fd=out_w,
            stderr_fd=err_w,
            result_fd=res_w,
            cpu_seconds=int(timeout_s) + 1,
            address_space=_own_address_space() + self.limits["memory_mb"] * 1024 * 1024,
            file_size_mb=self.limits["file_size_mb"],
            max_open_files=self.limits["max_open_files"],
            nproc_limit=self.nproc_limit,
            nonce=os.urandom(16).hex(),
        )
        start = time.monotonic()
        try:
            pid = fork_into_pid_namespace(self.jail.own_pid_ns)
        except OSError as exc:
            for fd in (out_r, out_w, err_r, err_w, res_r, res_w):
                os.close(fd)
            return _answer(Outcome.CRASHED, f"the sandbox could not fork: {exc}")
        if pid == 0:
            run_child(setup)
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        cap = self.limits["max_output_bytes"]
        captured = {out_r: _Capture(cap), err_r: _Capture(cap), res_r: _Capture(_MAX_REPORT_BYTES)}
        try:
            status, timed_out = _wait(pid, captured, start + timeout_s)
        finally:
            for fd in captured:
                os.close(fd)
        stderr = captured[err_r].text()
        report = _parse_report(bytes(captured[res_r].data), setup.nonce)
        answer = classify(report, status, timed_out, timeout_s, stderr)
        answer.update(
            stdout=captured[out_r].text(),
            stderr=stderr,
            duration_s=round(time.monotonic() - start, 6),
        )
        if os.WIFSIGNALED(status):
            answer["signal"] = _signal_name(os.WTERMSIG(status))
        else:
            answer["exit_status"] = os.waitstatus_to_exitcode(status)
        return answer


def _own_address_space() -> int:
    """This worker's address-space size in bytes (a forked child starts with the same)."""
    fd = os.open("/proc/self/statm", os.O_RDONLY)
    try:
        return int(os.read(fd, 128).split()[0]) * os.sysconf("SC_PAGE_SIZE")
    finally:
        os.close(fd)


class _Capture:
    """The first ``cap`` bytes of a stream, and how many more were thrown away."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        text = self.data.decode("utf-8", "replace")
        return f"{text}\n[... {self.dropped} more bytes dropped]" if self.dropped else text


def _wait(pid: int, captured: dict[int, _Capture], deadline: float) -> tuple[int, bool]:
    """Drain the child's pipes until it exits or the deadline passes; (wait status, timed out)."""
    pidfd = os.pidfd_open(pid)
    open_fds = list(captured)
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready = select.select([*open_fds, pidfd], [], [], remaining)[0]
            for fd in ready:
                if fd != pidfd and not _read_into(fd, captured[fd]):
                    open_fds.remove(fd)
            if pidfd in ready:
                break
        # Kill the whole session before reaping: while the child is a zombie its process group
        # id cannot be reused. In a PID namespace, killing its init kills every process in it.
        for kill in (os.kill, os.killpg):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
    finally:
        os.close(pidfd)
    for fd in open_fds:  # what was written before the end, without waiting for stragglers
        os.set_blocking(fd, False)
        try:
            while _read_into(fd, captured[fd]):
                pass
        except BlockingIOError:
            pass
    return status, timed_out


def _read_into(fd: int, capture: _Capture) -> bool:
    chunk = os.read(fd, _READ_CHUNK)
    capture.add(chunk)
    return bool(chunk)


def _parse_report(data: bytes, nonce: str) -> dict[str, Any] | None:
    """The harness's report; ``{}`` for a report it did not write; None when there is none."""
    if not data:
        return None
    try:
        report = json.loads(data)
        if report.get("nonce") == nonce:
            Outcome(report["outcome"])
            return report
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return {}


def classify(
    report: dict[str, Any] | None, status: int, timed_out: bool, timeout_s: float, stderr: str
) -> dict[str, Any]:
    """The outcome of one sample from its report (if any) and how its process ended."""
    if timed_out:
        return _answer(Outcome.TIMEOUT, f"ran past the {timeout_s:g} s wall-clock limit")
    if report == {}:
        return _answer(Outcome.CRASHED, "the result report was not written by the harness")
    if report is not None:
        outcome = Outcome(report["outcome"])
        return _answer(outcome, str(report.get("detail", "")), report.get("exc_type"))
    if os.WIFSIGNALED(status):
        name = _signal_name(os.WTERMSIG(status))
        if name == "SIGXCPU":
            return _answer(Outcome.TIMEOUT, f"used up its CPU-time limit ({int(timeout_s) + 1} s)")
        if name in ("SIGABRT", "SIGSEGV", "SIGBUS") and (
            "MemoryError" in stderr or "Cannot allocate memory" in stderr
        ):
            return _answer(Outcome.OOM, f"killed by {name} after running out of memory")
        return _answer(Outcome.CRASHED, f"killed by {name}")
    code = os.waitstatus_to_exitcode(status)
    return _answer(Outcome.CRASHED, f"exited with status {code} before the program ended")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no names
        return f"signal {number}"


def _answer(outcome: Outcome, detail: str, exc_type: str | None = None) -> dict[str, Any]:
    return {"outcome": outcome.value, "detail": detail, "exc_type": exc_type}
