"""What a fine-tuning run tells the outside world, as JSON lines or as text and bars.

With ``--progress json`` (how the language server runs ``evoselfcode finetune``) stdout carries
one JSON object per line, which the server relays as ``$/progress``::

    {"event": "phase", "phase": "data", "message": "..."}
    {"event": "progress", "phase": "train", "done": 3, "total": 40, "step": 3, "loss": 1.92,
     "tokens_per_s": 812.5, "eta_s": 41.0, "lr": 0.0002, "epoch": 0.23, "message": "..."}
    {"event": "checkpoint", "step": 50, "path": "..."}
    {"event": "warning", "message": "..."}
    {"event": "result", "status": "finished" | "stopped", ...}      # always the last line
    {"event": "error", "message": "...", "kind": "DataError"}

On a terminal the same events are short lines on stderr beside a tqdm progress bar.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from models.progress import ProgressReporter

# What fits beside a bar on a terminal; JSON lines carry every field.
BAR_FIELDS = ("loss", "tokens_per_s", "passed")


class PhaseProgress:
    """One phase's progress: every field in JSON lines, the few that fit beside a bar."""

    def __init__(self, reporter: ProgressReporter) -> None:
        self._reporter = reporter

    def update(self, advance: int = 1, **fields: Any) -> None:
        if not self._reporter.json_lines:
            fields = {k: v for k, v in fields.items() if k in BAR_FIELDS}
        self._reporter.update(advance, **fields)

    def __enter__(self) -> PhaseProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._reporter.close()


class RunEvents:
    """The event sink of one run."""

    def __init__(self, *, json_lines: bool, stream: IO[str] | None = None) -> None:
        self.json_lines = json_lines
        self._stream = stream or sys.stdout
        self._raw = ProgressReporter(None, "", json_lines=True, stream=self._stream)
        self.warnings: list[str] = []

    def phase(self, phase: str, message: str, **fields: Any) -> None:
        self._emit("phase", f"{message}", phase=phase, message=message, **fields)

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self._emit("warning", f"warning: {message}", message=message)

    def checkpoint(self, step: int, path: str) -> None:
        self._emit("checkpoint", f"checkpoint at step {step}: {path}", step=step, path=path)

    def progress(self, total: int, description: str) -> PhaseProgress:
        """A bar (terminal) or ``progress`` JSON lines for one phase."""
        reporter = ProgressReporter(
            total, description, json_lines=self.json_lines, stream=self._stream
        )
        return PhaseProgress(reporter)

    def result(self, **fields: Any) -> None:
        self._raw.result(**fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("error", f"error: {message}", message=message, **fields)

    def _emit(self, event: str, text: str, **fields: Any) -> None:
        if self.json_lines:
            self._raw.emit(event, **fields)
        else:
            from tqdm import tqdm

            tqdm.write(text, file=sys.stderr)
