"""One of our commands in a child process, speaking JSON lines on stdout.

``ChildProcess`` starts ``argv`` in its own session (a Ctrl+C meant for the server's terminal
does not reach it, and its whole process group can be stopped), hands every JSON line of its
stdout to ``on_event`` on the event loop, keeps the tail of stderr for error messages, and
remembers the last ``{"event": "result"}`` and ``{"event": "error"}`` lines
(``models.progress`` format). ``stop`` sends SIGTERM and, if the child has not exited after a
grace period, SIGKILL to its group. The child watches the server (``exit_with_parent``): a
server killed outright still stops its runs, a fine-tuning run after its checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
LINE_LIMIT = 8 * 1024 * 1024  # a result line may hold a long report
STDERR_TAIL = 4000
STOP_GRACE_S = 60.0  # a fine-tuning run writes a checkpoint before it exits
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # holds server/, evolution/, models/
PARENT_PID_ENV = "EVOSELFCODE_PARENT_PID"  # set for a child: the server it works for
PARENT_POLL_S = 1.0


@dataclass(frozen=True)
class ChildExit:
    returncode: int
    result: dict[str, Any] | None  # the last {"event": "result"} line
    error: dict[str, Any] | None  # the last {"event": "error"} line
    stderr_tail: str

    def failure(self, what: str) -> str:
        """Why the run failed, in one message (for an exit without a result)."""
        if self.error is not None:
            return str(self.error.get("message") or self.error)
        last = next((ln for ln in reversed(self.stderr_tail.splitlines()) if ln.strip()), "")
        detail = f": {last.strip()}" if last else ""
        return f"{what} exited with status {self.returncode} without a result{detail}"


def command_argv(*args: str) -> list[str]:
    """``evoselfcode ARGS`` run by this interpreter (the server's own environment)."""
    return [sys.executable, "-m", "server.cli", *args]


def child_environment(cpu_threads: int | None = None) -> dict[str, str]:
    """The server's environment, with our packages importable and torch's threads capped."""
    env = dict(os.environ)
    paths = [str(PACKAGE_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env[PARENT_PID_ENV] = str(os.getpid())
    if cpu_threads is not None:
        env.setdefault("OMP_NUM_THREADS", str(cpu_threads))
    return env


def exit_with_parent() -> None:
    """In a child: SIGTERM to itself once the server that started it is gone.

    ``stop`` cannot run when the server is killed (SIGKILL, OOM killer), and without this the
    run would go on for nobody. The child then stops as if the server had stopped it. A
    thread polls the parent's pid (portable, unlike prctl's PDEATHSIG, which also fires when
    merely the spawning thread exits); nothing happens outside a server's child.
    """
    parent = os.environ.pop(PARENT_PID_ENV, None)
    if parent is None or not parent.isdigit():
        return
    if os.getppid() != int(parent):  # already gone before we looked
        os.kill(os.getpid(), signal.SIGTERM)
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(PARENT_POLL_S)
        log.warning("the language server (pid %s) is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def spare_cpu_threads() -> int:
    """Threads a child may use and still leave one core to the completion model."""
    return max(1, (os.cpu_count() or 2) - 1)


class ChildProcess:
    def __init__(
        self,
        argv: list[str],
        *,
        name: str,
        on_event: Callable[[dict[str, Any]], None],
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = argv
        self.name = name
        self._on_event = on_event
        self._env = env
        self._process: asyncio.subprocess.Process | None = None
        self._stderr = ""
        self._result: dict[str, Any] | None = None
        self._error: dict[str, Any] | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._killer: asyncio.TimerHandle | None = None
        self.stopping = False

    async def start(self) -> None:
        """Start the child (OSError when it cannot be started)."""
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            start_new_session=True,
            limit=LINE_LIMIT,
        )
        log.info("%s started (pid %d)", self.name, self._process.pid)
        self._readers = [
            asyncio.ensure_future(self._read_stdout()),
            asyncio.ensure_future(self._read_stderr()),
        ]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def wait(self) -> ChildExit:
        assert self._process is not None, "start() first"
        returncode = await self._process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if self._killer is not None:
            self._killer.cancel()
        self._kill_group(signal.SIGKILL)  # leftovers (sandbox workers) go with it
        log.info("%s exited with status %d", self.name, returncode)
        return ChildExit(returncode, self._result, self._error, self._stderr)

    def stop(self, *, group: bool, grace_s: float = STOP_GRACE_S) -> bool:
        """SIGTERM (to the whole group, or to the leader only when it stops its own children);
        SIGKILL to the group after ``grace_s``. False when it is not running."""
        if not self.running:
            return False
        assert self._process is not None
        self.stopping = True
        if group:
            self._kill_group(signal.SIGTERM)
        else:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the server is exiting: the signal is all it gets
            return True
        self._killer = loop.call_later(grace_s, self._kill_group, signal.SIGKILL)
        return True

    def _kill_group(self, signum: int) -> None:
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    async def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for raw in self._process.stdout:
            line = raw.decode("utf-8", errors="replace").strip()
            try:
                event = json.loads(line)
            except ValueError:
                if line:
                    log.debug("%s: %s", self.name, line[:500])
                continue
            if not isinstance(event, dict):
                continue
            if event.get("event") == "result":
                self._result = event
            elif event.get("event") == "error":
                self._error = event
            try:
                self._on_event(event)
            except Exception:  # relaying must never stop the reading
                log.exception("%s: could not relay %s", self.name, line[:200])

    async def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        while chunk := await self._process.stderr.read(65536):
            self._stderr = (self._stderr + chunk.decode("utf-8", errors="replace"))[-STDERR_TAIL:]
