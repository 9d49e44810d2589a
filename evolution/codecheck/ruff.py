"""Run ruff on a snippet. ruff has no Python API, so its binary reads the code on stdin."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass


class RuffUnavailable(RuntimeError):
    """The ruff binary is missing or failed to run."""


@dataclass(frozen=True)
class RuffFinding:
    code: str  # e.g. "F821"; "invalid-syntax" for parse errors
    message: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column} {self.code} {self.message}"


def ruff_check(
    code: str, select: Sequence[str] = ("F", "E9"), *, timeout_s: float = 10.0
) -> list[RuffFinding]:
    """Findings of ``ruff check --select ...`` on ``code`` (empty when clean)."""
    from ruff.__main__ import find_ruff_bin

    command = [
        find_ruff_bin(),
        "check",
        "--isolated",  # the user's ruff config must not change what the gate checks
        "--no-cache",
        "--output-format",
        "json",
        "--select",
        ",".join(select),
        "--stdin-filename",
        "snippet.py",
        "-",
    ]
    try:
        proc = subprocess.run(
            command, input=code, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuffUnavailable(f"could not run ruff: {exc}") from exc
    if proc.returncode not in (0, 1):  # 1 means findings, 2 an error of ruff itself
        raise RuffUnavailable(f"ruff failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return [
        RuffFinding(
            code=item.get("code") or "invalid-syntax",
            message=item.get("message", ""),
            line=item.get("location", {}).get("row", 0),
            column=item.get("location", {}).get("column", 0),
        )
        for item in json.loads(proc.stdout or "[]")
    ]
