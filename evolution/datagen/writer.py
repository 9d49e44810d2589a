"""The parts folder: sharded JSONL written as the requests finish, and what resume reads back.

Layout of ``{out_dir}/parts/`` (one per stage)::

    manifest.{phase}.json              the settings that shape the records (a resumed run
                                       must have the same; ``phase`` is raw or scores)
    {phase}.{tag}.{seq:05d}.jsonl      records; ``tag`` is ``shard-i-of-N`` (1-of-1 when not
                                       split); a new file after ``io.shard_size`` records
    {phase}.{tag}.lock                 held while a run writes that tag
    *.torn-{time}-{offset}             bytes a crash left unfinished, set aside, never read

Every line is a JSON object with ``id``, ``item_id`` and ``group_size``. The records of one
work item (its n choices) are written together by one ``write`` call, so after a crash
(``kill -9``) a file ends in whole groups, or in one unfinished group or line. Resume reads
the complete groups; it moves an unfinished tail of its *own* tag's files aside, and skips (but
never touches) one in another tag's files, which another process may still be writing. The
item ids of complete groups are the finished work: no duplicates (an item found twice keeps its
first copy) and no gaps (anything not on disk is done again). Files are not fsynced per record:
a killed process loses nothing the kernel has, and what a power loss drops is simply redone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.datagen.config import fingerprint
from evolution.datagen.errors import InputError, OutputError, RunLocked
from evolution.store.records import json_line

try:
    import fcntl
except ImportError:  # Windows: runs are not protected against each other
    fcntl = None

logger = logging.getLogger(__name__)

WriteFn = Callable[[int, bytes], int]  # os.write's shape; tests pass one that fills the disk


@dataclass
class PartsScan:
    """What is on disk: the records of complete groups, first copy of each item."""

    records: list[dict[str, Any]]
    item_ids: set[str]
    set_aside_bytes: int = 0  # unfinished tails of this run's own files, moved aside
    skipped_tails: int = 0  # files of other tags ending unfinished (left alone)
    duplicate_items: int = 0  # items found complete more than once (later copies dropped)


class Parts:
    """The parts folder of one stage."""

    def __init__(self, out_dir: str | os.PathLike[str], phase: str) -> None:
        self.dir = Path(out_dir) / "parts"
        self.phase = phase

    def files(self, tag: str = "*") -> list[Path]:
        return sorted(self.dir.glob(f"{self.phase}.{tag}.[0-9]*.jsonl"))

    # --- settings ---------------------------------------------------------------------------

    def check_manifest(self, settings: dict[str, Any], *, write: WriteFn = os.write) -> None:
        """Record ``settings`` on first use; refuse parts made with different ones."""
        path = self.dir / f"manifest.{self.phase}.json"
        wanted = {"phase": self.phase, "fingerprint": fingerprint(settings), "settings": settings}
        if path.is_file():
            try:
                found = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot read {path}: {exc}; move it away to start over") from exc
            if found.get("fingerprint") != wanted["fingerprint"]:
                changed = ", ".join(_changed_keys(found.get("settings") or {}, settings))
                raise InputError(
                    f"{self.dir} holds {self.phase} records made with other settings (changed: "
                    f"{changed or 'unknown'}); resume with the old settings, or move that folder "
                    "away (or choose another io.out_*_dir) to start over"
                )
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json(path, wanted, write=write)

    # --- locks ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, tag: str) -> Iterator[None]:
        """Hold ``tag``'s lock; ``RunLocked`` when another process holds it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{self.phase}.{tag}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise RunLocked(
                        f"another evoselfcode datagen run is writing {self.dir} ({tag}); "
                        "wait for it to finish or stop it"
                    ) from None
            yield
        finally:
            os.close(fd)

    def ensure_unlocked(self) -> None:
        """Refuse to merge while any run still writes this folder."""
        for path in sorted(self.dir.glob(f"{self.phase}.*.lock")):
            tag = path.name.removeprefix(f"{self.phase}.").removesuffix(".lock")
            with self.lock(tag):
                pass

    # --- reading ----------------------------------------------------------------------------

    def scan(self, own_tag: str | None = None) -> PartsScan:
        """The complete groups of every file; unfinished tails of ``own_tag``'s set aside."""
        scan = PartsScan(records=[], item_ids=set())
        for path in self.files():
            own = own_tag is not None and path.name.startswith(f"{self.phase}.{own_tag}.")
            groups, end, size = _read_groups(path)
            if end < size:
                if own:
                    scan.set_aside_bytes += _set_aside(path, end)
                else:
                    scan.skipped_tails += 1
                    logger.warning("%s: skipped an unfinished tail at byte %d", path, end)
            for group in groups:
                item_id = group[0]["item_id"]
                if item_id in scan.item_ids:
                    scan.duplicate_items += 1
                    logger.warning("%s: %s was done in an earlier file too", path, item_id)
                    continue
                scan.item_ids.add(item_id)
                scan.records.extend(group)
        return scan

    # --- writing ----------------------------------------------------------------------------

    def writer(self, tag: str, shard_size: int, *, write: WriteFn = os.write) -> PartWriter:
        return PartWriter(self, tag, shard_size, write=write)


class PartWriter:
    """Appends groups to ``{phase}.{tag}.NNNNN.jsonl``, starting a new file every
    ``shard_size`` records (a group is never split, so a file may hold a few more)."""

    def __init__(self, parts: Parts, tag: str, shard_size: int, *, write: WriteFn) -> None:
        self.parts, self.tag, self.shard_size = parts, tag, shard_size
        self._write = write
        self._fd = -1
        existing = parts.files(tag)
        self._seq = int(existing[-1].name.split(".")[-2]) if existing else 0
        self._count = _count_lines(existing[-1]) if existing else 0
        self.written = 0  # records written by this writer

    @property
    def path(self) -> Path:
        return self.parts.dir / f"{self.parts.phase}.{self.tag}.{self._seq:05d}.jsonl"

    def write_group(self, records: list[dict[str, Any]]) -> None:
        """Append one item's records with one write; on failure nothing of them stays."""
        if self._count >= self.shard_size:
            self._close_file()
            self._seq += 1
            self._count = 0
        if self._fd < 0:
            self.parts.dir.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(self.path, flags, 0o644)
        data = b"".join(json_line(record) for record in records)
        offset = os.fstat(self._fd).st_size
        try:
            _write_all(self._write, self._fd, data)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, offset)
            raise OutputError(
                f"could not write to {self.path}: {exc.strerror or exc}; the records written "
                "before are intact: free some space and run the same command again to resume"
            ) from exc
        self._count += len(records)
        self.written += len(records)

    def _close_file(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):  # a failed fsync loses nothing a rerun cannot redo
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        self._close_file()


# --- final outputs -------------------------------------------------------------------------


def write_jsonl(
    path: str | os.PathLike[str], records: Iterable[dict[str, Any]], *, write: WriteFn = os.write
) -> int:
    """Replace ``path`` with the records (one JSON line each) atomically; returns the count."""
    lines = [json_line(record) for record in records]
    _replace(Path(path), b"".join(lines), write)
    return len(lines)


def write_json(path: str | os.PathLike[str], payload: Any, *, write: WriteFn = os.write) -> None:
    """Replace ``path`` with indented JSON atomically."""
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a model's text: escape everything
        data = (json.dumps(payload, indent=2) + "\n").encode("ascii")
    _replace(Path(path), data, write)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The objects of a JSONL file this package wrote; ``InputError`` naming a bad line."""
    source = Path(path)
    out = []
    try:
        with open(source, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise InputError(f"{source}, line {number}: not JSON ({exc})") from None
                if not isinstance(row, dict):
                    raise InputError(f"{source}, line {number}: not a JSON object")
                out.append(row)
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}") from exc
    return out


def _replace(target: Path, data: bytes, write: WriteFn) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0))
    try:
        _write_all(write, fd, data)
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            staging.unlink()
        raise OutputError(
            f"could not write {target}: {exc.strerror or exc}; the previous {target.name} (if "
            "any) is unchanged: free some space and run the same command again"
        ) from exc
    os.close(fd)
    os.replace(staging, target)


def _write_all(write: WriteFn, fd: int, data: bytes) -> None:
    while data:
        written = write(fd, data)
        data = data[written:]  # a short write happens on a nearly full disk or after a signal


def _read_groups(path: Path) -> tuple[list[list[dict[str, Any]]], int, int]:
    """The complete groups at the start of ``path``, where they end, and the file size."""
    data = path.read_bytes()
    groups: list[list[dict[str, Any]]] = []
    group: list[dict[str, Any]] = []
    position = good_end = 0
    while (newline := data.find(b"\n", position)) >= 0:
        record = _part_record(data[position:newline])
        position = newline + 1
        if record is None or (group and record["item_id"] != group[0]["item_id"]):
            break  # a damaged line, or a group cut short by a crash before this one
        group.append(record)
        if len(group) == record["group_size"]:
            groups.append(group)
            group, good_end = [], position
    return groups, good_end, len(data)


def _part_record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("id"), str)
        or not isinstance(record.get("item_id"), str)
        or not isinstance(record.get("group_size"), int)
        or record["group_size"] < 1
    ):
        return None
    return record


def _set_aside(path: Path, keep: int) -> int:
    """Move the bytes after ``keep`` to a ``.torn-`` file beside ``path``; returns their size."""
    with open(path, "r+b") as handle:
        handle.seek(keep)
        tail = handle.read()
        side = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%dT%H%M%S')}-{keep}")
        side.write_bytes(tail)
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    logger.warning(
        "%s ended in an unfinished group (%d bytes, from a crash): set aside in %s",
        path,
        len(tail),
        side.name,
    )
    return len(tail)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _changed_keys(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += _changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys
