"""Starting, talking to and stopping one sandbox worker process (host side)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import SandboxError
from evaluation.sandbox.isolation import Isolation
from evaluation.sandbox.protocol import ExecResult, WorkerConfig, read_frame, write_frame

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from evaluation.sandbox.worker import main; main()"
)
START_TIMEOUT_S = 30.0
STOP_GRACE_S = 2.0


@dataclass(eq=False)
class WorkerProcess:
    """A running worker: requests go to its stdin, answers come from its stdout."""

    process: subprocess.Popen[bytes]
    isolation: Isolation

    @classmethod
    def start_many(cls, count: int, config: WorkerConfig) -> list[WorkerProcess]:
        """Start ``count`` workers at once and wait until each says it is ready."""
        argument = json.dumps(config.to_json())
        # The environment is built from scratch: no API keys, tokens or PYTHON* settings.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        processes = [
            subprocess.Popen(
                [sys.executable, "-s", "-c", _BOOTSTRAP, _PACKAGE_ROOT, argument],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd="/",
                start_new_session=True,  # Ctrl-C in a terminal reaches the host, not the workers
            )
            for _ in range(count)
        ]
        workers: list[WorkerProcess] = []
        try:
            for process in processes:
                workers.append(cls(process, _handshake(process)))
        except BaseException:
            for process in processes:
                process.kill()
                process.wait()
            raise
        return workers

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, program: str, timeout_s: float, readable_paths: tuple[str, ...]) -> None:
        """Queue one program; ``OSError`` when the worker is gone."""
        assert self.process.stdin is not None
        request: dict[str, Any] = {"program": program, "timeout_s": timeout_s}
        if readable_paths:
            request["readable_paths"] = list(readable_paths)
        write_frame(self.process.stdin.fileno(), request)

    def receive(self, deadline: float) -> ExecResult | None:
        """The next answer; None when the worker died; ``TimeoutError`` past ``deadline``."""
        assert self.process.stdout is not None
        try:
            answer = read_frame(self.process.stdout.fileno(), deadline)
        except TimeoutError:  # an OSError too, but it means "alive and silent"
            raise
        except (OSError, EOFError, ValueError):
            return None
        return None if answer is None else ExecResult.from_answer(answer)

    def _stop(self) -> None:
        # In a user namespace the process started here only waits for the worker: SIGTERM
        # asks it to kill the worker and reap it (``userns.py``). Otherwise: SIGKILL.
        if self.isolation.user_namespace:
            self.process.terminate()
        else:
            self.process.kill()

    def exit_status(self) -> int | None:
        return self.process.poll()

    def terminate(self) -> None:
        """Stop it without waiting (safe from any thread; ``kill`` cleans up)."""
        if self.process.poll() is None:
            self._stop()

    def kill(self) -> None:
        """Stop it now (its samples die with it) and release its pipes. Idempotent."""
        if self.process.poll() is None:
            self._stop()
        if self.isolation.user_namespace:
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:  # stopped or hung: its worker dies with it
                self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def _handshake(process: subprocess.Popen[bytes]) -> Isolation:
    assert process.stdout is not None
    try:
        hello = read_frame(process.stdout.fileno(), time.monotonic() + START_TIMEOUT_S)
    except (TimeoutError, OSError, EOFError, ValueError) as exc:
        raise SandboxError(f"a sandbox worker did not start: {exc}") from exc
    if not hello or not hello.get("ready"):
        why = (hello or {}).get("error") or f"it exited with status {process.wait()}"
        raise SandboxError(f"a sandbox worker could not start: {why}")
    return Isolation.from_json(hello["isolation"])
