"""The outcome log: ``{dataDir}/outcomes/completions.jsonl``, one record per suggestion.

Appends go through the training store's ``AppendOnlyLog`` (one ``os.write`` per line, fsync,
file lock; a torn last line left by a crash is set aside, never merged). The size is capped by
rotation: once the file passes ``max_bytes`` it becomes ``completions.1.jsonl`` (replacing the
older one), so the log never holds more than about twice the cap and the newest records stay.
Reading skips and counts lines that are no JSON object or of another schema version.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.store.appendlog import AppendOnlyLog

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
LOG_FILE = "completions.jsonl"
ROTATED_FILE = "completions.1.jsonl"
MAX_BYTES = 8 << 20  # per file; the rotated file holds the previous 8 MiB


def log_path(data_dir: Path) -> Path:
    return data_dir / "outcomes" / LOG_FILE


@dataclass(frozen=True)
class LogContents:
    records: list[dict[str, Any]]  # oldest first, the rotated file's before the current one's
    skipped_lines: int  # torn, not JSON, or another schema version


class OutcomeLog:
    """Appends outcome records to one capped JSONL file; safe across threads and processes."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.rotated = path.with_name(ROTATED_FILE)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._file: AppendOnlyLog | None = None

    def append(self, record: dict[str, Any]) -> None:
        """Write one record (``schema_version`` added), then rotate when over the cap."""
        line = json.dumps({"schema_version": SCHEMA_VERSION, **record}, ensure_ascii=False)
        with self._lock:
            file = self._open()
            with file.locked():
                file.append(line.encode("utf-8") + b"\n")
                if file.size() > self.max_bytes:
                    os.replace(self.path, self.rotated)  # atomic: no record is ever half moved
                    log.info("outcome log over %d bytes: now %s", self.max_bytes, self.rotated)
            if not self.path.exists():
                file.close()
                self._file = None

    def read(self) -> LogContents:
        records: list[dict[str, Any]] = []
        skipped = 0
        for path in (self.rotated, self.path):
            for line in _lines(path):
                try:
                    record = json.loads(line)
                except ValueError:
                    skipped += 1  # a torn last line (a kill mid-write) or a damaged one
                    continue
                if isinstance(record, dict) and record.get("schema_version") == SCHEMA_VERSION:
                    records.append(record)
                else:
                    skipped += 1
        return LogContents(records, skipped)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _open(self) -> AppendOnlyLog:
        if self._file is None:
            self._file = AppendOnlyLog(self.path)
            with self._file.locked():
                self._file.set_aside_torn_tail()
        return self._file


def _lines(path: Path) -> Iterator[bytes]:
    try:
        with open(path, "rb") as file:
            yield from (line for line in file if line.strip())
    except FileNotFoundError:
        return
