"""The training-data store: verified (instruction, code) pairs in one append-only JSONL file.

Files (``{data_dir}/training/`` by default, see ``models.paths``)::

    pairs.jsonl              the records, one per line (``evolution.store.records``)
    pairs.index.jsonl        a rebuildable index of their offsets and hashes (fast open)
    pairs.duplicates.jsonl   one line per pair not stored because its code was already there
    pairs.jsonl.torn-*       a torn last line found after a crash, set aside (never merged)

Several processes may hold the same store open: each append takes the file lock, catches up
with lines others appended, checks for duplicates, then writes one line and fsyncs it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evolution.codecheck import normalized_ast_hash
from evolution.store.appendlog import AppendOnlyLog, TornTail
from evolution.store.decontam import Decontaminator, load_benchmark_texts
from evolution.store.errors import InvalidRecord
from evolution.store.index import IndexEntry, RecordIndex
from evolution.store.records import RecordDraft, TrainingRecord, content_hash, json_line

logger = logging.getLogger(__name__)

STORE_FILE = "pairs.jsonl"


@dataclass(frozen=True)
class AddOutcome:
    """What ``TrainingStore.add`` did: recorded, or skipped as a duplicate of an earlier record."""

    recorded: bool
    record_id: str | None = None
    duplicate_of: str | None = None
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoreStats:
    path: str
    records: int
    by_source: dict[str, int]
    flagged: int
    trainable: int
    duplicates_skipped: int
    unreadable_lines: int
    torn_tails_set_aside: int
    last_added: str | None
    file_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class TrainingStore:
    """Append-only store of training pairs; safe to share between threads and processes.

    ``decontaminator`` checks each new pair against the benchmarks; by default it is built on
    first use from ``evaluation.datasets`` (HumanEval, and MBPP where present offline).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        decontaminator: Decontaminator | Callable[[], Decontaminator] | None = None,
    ) -> None:
        self.path = Path(path)
        stem = self.path.name.removesuffix(".jsonl")
        self._log = AppendOnlyLog(self.path)
        self._index = RecordIndex(self._log, self.path.with_name(f"{stem}.index.jsonl"))
        self._duplicates = AppendOnlyLog(self.path.with_name(f"{stem}.duplicates.jsonl"))
        self._decontaminator = decontaminator
        self._decontaminator_lock = threading.Lock()
        self.torn_tails: list[TornTail] = []  # set aside since this store was opened
        self._reset_memory()
        with self._log.locked():
            self._catch_up()

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str], **kwargs: Any) -> TrainingStore:
        """The store at ``{data_dir}/training/pairs.jsonl``."""
        return cls(Path(data_dir) / "training" / STORE_FILE, **kwargs)

    def _reset_memory(self) -> None:
        self._entries: list[IndexEntry] = []
        self._by_id: dict[str, IndexEntry] = {}
        self._by_ast_hash: dict[str, str] = {}
        self._task_ids: set[str] = set()

    def _catch_up(self) -> None:
        """Take in what other processes appended (hold the lock)."""
        torn = self._log.set_aside_torn_tail()
        if torn is not None:
            self.torn_tails.append(torn)
        entries, reset = self._index.sync()
        if reset:
            self._reset_memory()
        for entry in entries:
            self._entries.append(entry)
            if entry.record_id is None:
                continue
            self._by_id[entry.record_id] = entry
            if entry.ast_hash:
                self._by_ast_hash.setdefault(entry.ast_hash, entry.record_id)
            if entry.task_id:
                self._task_ids.add(entry.task_id)

    # --- writing ----------------------------------------------------------------------------

    def add(self, draft: RecordDraft) -> AddOutcome:
        """Store a pair unless its code (normalized AST) is already stored; fsynced on return.

        Raises ``InvalidRecord`` for an empty instruction or code, unknown source or code that
        does not parse, and ``StoreWriteError`` when the disk refuses (nothing recorded then).
        Code that does not parse is taken only from a pair recorded without gates
        (``provenance.gate_policy == "none"``, a measurement); it has no AST hash to dedup by.
        """
        draft.validate()
        ast_hash = normalized_ast_hash(draft.code)
        if ast_hash is None:
            if draft.provenance.gate_policy != "none":
                raise InvalidRecord("the code does not parse as Python")
            ast_hash = ""
        decontamination = self.decontaminator().check(
            draft.instruct, draft.code, is_method=draft.context.class_name is not None
        )
        created_at = draft.provenance.created_at or _now()
        record = TrainingRecord(
            id=uuid.uuid4().hex,
            instruct=draft.instruct,
            code=draft.code,
            source=draft.source,
            context=draft.context,
            provenance=replace(draft.provenance, created_at=created_at),
            content_hash=content_hash(draft.instruct, draft.code),
            ast_hash=ast_hash,
            decontamination=decontamination,
        )
        line = record.to_json_line()
        with self._log.locked():
            self._catch_up()
            duplicate_of = self._by_ast_hash.get(ast_hash)
            if duplicate_of is not None:
                self._note_duplicate(record, duplicate_of)
                return AddOutcome(recorded=False, duplicate_of=duplicate_of)
            self._log.append(line)
            self._catch_up()  # indexes the new line like any other
        return AddOutcome(
            recorded=True,
            record_id=record.id,
            flagged=decontamination.flagged,
            reasons=list(decontamination.reasons),
        )

    def _note_duplicate(self, record: TrainingRecord, duplicate_of: str) -> None:
        note = {
            "at": _now(),
            "source": record.source,
            "task_id": record.provenance.task_id,
            "ast_hash": record.ast_hash,
            "duplicate_of": duplicate_of,
        }
        with self._duplicates.locked():
            self._duplicates.set_aside_torn_tail()
            self._duplicates.append(json_line(note))

    def decontaminator(self) -> Decontaminator:
        """The benchmark checker, built on first use (the default one takes about 2 s once per
        process, mostly looking for MBPP: call this early in a thread to take that off the
        first ``add``)."""
        with self._decontaminator_lock:
            if self._decontaminator is None:
                self._decontaminator = _default_decontaminator()
            elif not isinstance(self._decontaminator, Decontaminator):
                self._decontaminator = self._decontaminator()
            return self._decontaminator

    # --- reading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Take in records other processes appended since this store last looked."""
        with self._log.locked():
            self._catch_up()

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._by_id

    def task_ids(self) -> frozenset[str]:
        """Batch instruction ids that have a record (``evoselfcode evolve`` resumes past them)."""
        return frozenset(self._task_ids)

    def get(self, record_id: str) -> TrainingRecord:
        """The record with this id; ``KeyError`` when there is none."""
        entry = self._by_id[record_id]
        return TrainingRecord.from_dict(json.loads(self._log.read(entry.offset, entry.length)))

    def records(self) -> Iterator[TrainingRecord]:
        """Every readable record in file order, flagged ones included."""
        with self._log.locked():
            self._catch_up()
            known = {entry.offset for entry in self._by_id.values()}
            end = self._entries[-1].end if self._entries else 0
        for offset, line in self._log.lines(0, end):
            if offset in known:
                yield TrainingRecord.from_dict(json.loads(line))

    def training_records(self) -> Iterator[TrainingRecord]:
        """The records fine-tuning may use: everything not flagged by decontamination."""
        return (record for record in self.records() if not record.decontamination.flagged)

    def export_chat(self, path: str | os.PathLike[str]) -> int:
        """Write the trainable records as chat JSONL; returns how many were written.

        Each line: ``{"messages": [{"role": "user", "content": instruct},
        {"role": "assistant", "content": code}], "id": record id}`` — the conversation shape
        of Qwen's chat template (no system message: the template adds its default).
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(target.name + ".tmp")
        count = 0
        with open(staging, "wb") as handle:
            for record in self.training_records():
                messages = [
                    {"role": "user", "content": record.instruct},
                    {"role": "assistant", "content": record.code},
                ]
                handle.write(json_line({"messages": messages, "id": record.id}))
                count += 1
        os.replace(staging, target)
        return count

    def stats(self) -> StoreStats:
        with self._log.locked():
            self._catch_up()
            readable = list(self._by_id.values())
            lines = len(self._entries)
            file_bytes = self._log.size()
        flagged = sum(entry.flagged for entry in readable)
        last = max((entry.created_at or "" for entry in readable), default="") or None
        return StoreStats(
            path=str(self.path),
            records=len(readable),
            by_source=dict(Counter(entry.source or "unknown" for entry in readable)),
            flagged=flagged,
            trainable=len(readable) - flagged,
            duplicates_skipped=sum(1 for _ in self._duplicates.lines()),
            unreadable_lines=lines - len(readable),
            torn_tails_set_aside=len(list(self.path.parent.glob(f"{self.path.name}.torn-*"))),
            last_added=last,
            file_bytes=file_bytes,
        )

    def close(self) -> None:
        self._log.close()
        self._duplicates.close()

    def __enter__(self) -> TrainingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=1)
def _default_decontaminator() -> Decontaminator:
    """Built once per process from every benchmark available here."""
    return Decontaminator(load_benchmark_texts())
