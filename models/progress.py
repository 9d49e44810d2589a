"""Progress reporting shared by every long-running command.

On a terminal a tqdm bar goes to stderr. With ``json_lines=True`` (the ``--progress json``
flag, used when the language server runs a command as a child process) each update is one
JSON object per line on stdout, which the server relays to the editor as ``$/progress``:

    {"event": "progress", "done": 3, "total": 10, "message": "...", ...extra}
    {"event": "result", ...}          # the command's final machine-readable result
    {"event": "error", "message": "..."}
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import IO, Any


class ProgressReporter:
    """Report ``done``/``total`` progress as a bar on a terminal or as JSON lines."""

    def __init__(
        self,
        total: int | None,
        description: str,
        *,
        json_lines: bool = False,
        stream: IO[str] | None = None,
        initial: int = 0,
    ) -> None:
        """``initial``: what a resumed run had done before (the bar's rate and ETA count
        only what this run does)."""
        self.total = total
        self.done = initial
        self.json_lines = json_lines
        self._stream = stream or sys.stdout
        self._reader_gone = False
        self._bar = None
        if not json_lines:
            from tqdm import tqdm

            # disable=None turns the bar off when stderr is not a terminal.
            self._bar = tqdm(
                total=total, desc=description, file=sys.stderr, disable=None, initial=initial
            )

    def emit(self, event: str, **fields: Any) -> None:
        """Write one JSON line (json mode only)."""
        if self.json_lines and not self._reader_gone:
            try:
                self._stream.write(json.dumps({"event": event, **fields}, default=str) + "\n")
                self._stream.flush()
            except BrokenPipeError:
                self._lose_reader()

    def _lose_reader(self) -> None:
        """The reader (the language server) is gone: the run goes on without reporting (a
        server's child then stops cleanly, see ``server.runs.child.exit_with_parent``). The
        stream is pointed at /dev/null, as Python's docs advise, so that the exit does not
        fail flushing it."""
        self._reader_gone = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def update(self, advance: int = 1, *, message: str = "", **extra: Any) -> None:
        self.done += advance
        if self._bar is not None:
            self._bar.update(advance)
            if extra:
                self._bar.set_postfix(
                    {k: v for k, v in extra.items() if isinstance(v, (int, float, str))},
                    refresh=False,
                )
        self.emit("progress", done=self.done, total=self.total, message=message, **extra)

    def set_total(self, total: int) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def result(self, **fields: Any) -> None:
        self.emit("result", **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.emit("error", message=message, **fields)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
