"""A side index of the store's lines, so opening tens of thousands of records reads kilobytes.

``pairs.index.jsonl`` holds one small line per line of ``pairs.jsonl``: its offset, length and
the fields the store needs in memory (id, source, batch task id, AST hash, flag, time). It is a
cache: the records file is the truth. The index is checked against the records file (lines
contiguous from offset 0, the first and last ids found at their offsets) and rebuilt by one scan
when it is missing, damaged or stale; lines appended by a process that died before indexing them
are scanned and indexed by the next process that takes the lock.

Every method here runs with the records file's writer lock held.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evolution.store.appendlog import AppendOnlyLog

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One line of the records file, as much of it as the store keeps in memory."""

    offset: int
    length: int
    record_id: str | None = None  # None: the line is not a readable record (see ``problem``)
    source: str | None = None
    task_id: str | None = None
    ast_hash: str | None = None
    flagged: bool = False
    created_at: str | None = None
    problem: str | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    @classmethod
    def from_record_line(cls, offset: int, line: bytes) -> IndexEntry:
        try:
            data = json.loads(line)
            provenance = data.get("provenance") or {}
            return cls(
                offset=offset,
                length=len(line),
                record_id=str(data["id"]),
                source=str(data.get("source")),
                task_id=provenance.get("task_id"),
                ast_hash=data.get("ast_hash"),
                flagged=bool((data.get("decontamination") or {}).get("flagged")),
                created_at=provenance.get("created_at"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return cls(offset=offset, length=len(line), problem=f"unreadable line: {exc}")

    def to_index_line(self) -> bytes:
        fields = {key: value for key, value in asdict(self).items() if value is not None}
        return (json.dumps(fields, separators=(",", ":")) + "\n").encode()


class _StaleIndex(Exception):
    """The index does not describe the records file; it will be rebuilt."""


class RecordIndex:
    """This process's view of the index file, kept in step with the records file."""

    def __init__(self, log: AppendOnlyLog, path: str | os.PathLike[str]) -> None:
        self._log = log
        self.path = Path(path)
        self._covered = 0  # bytes of the records file described by entries seen so far
        self._index_read = 0  # bytes of the index file read so far
        self._inode: int | None = None
        self.rebuilt = False  # set when this process had to rebuild the index by a full scan

    def sync(self) -> tuple[list[IndexEntry], bool]:
        """Entries this process has not seen yet, and whether earlier ones must be forgotten.

        The second value is True when the index was replaced or rebuilt: the caller then
        discards what it knew and takes the returned entries as the whole store.
        """
        reset = False
        if self._inode is not None and _inode(self.path) != self._inode:
            self._covered, self._index_read, reset = 0, 0, True
        size = self._log.size()
        try:
            entries = self._read_new_index_lines(check=self._inode is None or reset)
            if self._covered > size:
                raise _StaleIndex(f"it describes {self._covered} bytes, the file has {size}")
        except _StaleIndex as exc:
            logger.info("rebuilding %s: %s", self.path, exc)
            return self._rebuild(), True
        if self._covered < size:
            scanned = self._scan(self._covered, size)
            self._append(scanned)
            entries.extend(scanned)
        return entries, reset

    def _read_new_index_lines(self, *, check: bool) -> list[IndexEntry]:
        try:
            with open(self.path, "rb") as handle:
                self._inode = os.fstat(handle.fileno()).st_ino
                handle.seek(self._index_read)
                blob = handle.read()
        except FileNotFoundError:
            self._inode = None
            return []
        complete = blob[: blob.rfind(b"\n") + 1]  # a torn index line is rewritten below
        entries, expected_offset = [], self._covered
        for raw in complete.splitlines():
            try:
                fields: dict[str, Any] = json.loads(raw)
                entry = IndexEntry(**fields)
            except (ValueError, TypeError) as exc:
                raise _StaleIndex(f"unreadable index line: {exc}") from exc
            if entry.offset != expected_offset:
                raise _StaleIndex(f"entry at offset {entry.offset} is out of sequence")
            entries.append(entry)
            expected_offset = entry.end
        if check and entries and not all(map(self._matches_records, (entries[0], entries[-1]))):
            raise _StaleIndex("its first or last entry does not match the records file")
        if len(complete) < len(blob):
            raise _StaleIndex("it ends in a torn line")
        self._index_read += len(complete)
        self._covered = expected_offset
        return entries

    def _matches_records(self, entry: IndexEntry) -> bool:
        line = self._log.read(entry.offset, entry.length)
        if len(line) != entry.length or not line.endswith(b"\n"):
            return False
        return IndexEntry.from_record_line(entry.offset, line).record_id == entry.record_id

    def _scan(self, start: int, end: int) -> list[IndexEntry]:
        lines = self._log.lines(start, end)
        entries = [IndexEntry.from_record_line(offset, line) for offset, line in lines]
        self._covered = entries[-1].end if entries else self._covered
        for entry in entries:
            if entry.problem:
                logger.warning("%s, offset %d: %s", self._log.path, entry.offset, entry.problem)
        return entries

    def _append(self, entries: list[IndexEntry]) -> None:
        if not entries:
            return
        with open(self.path, "ab") as handle:
            handle.write(b"".join(entry.to_index_line() for entry in entries))
            self._index_read = handle.tell()
            self._inode = os.fstat(handle.fileno()).st_ino

    def _rebuild(self) -> list[IndexEntry]:
        self._covered = 0
        entries = self._scan(0, self._log.size())
        staging = self.path.with_name(self.path.name + ".tmp")
        with open(staging, "wb") as handle:
            handle.write(b"".join(entry.to_index_line() for entry in entries))
            self._index_read = handle.tell()
        os.replace(staging, self.path)
        self._inode = _inode(self.path)
        self.rebuilt = True
        return entries


def _inode(path: Path) -> int | None:
    with contextlib.suppress(FileNotFoundError):
        return path.stat().st_ino
    return None
