"""Training pairs in: from the training-data store (or a plain JSONL file) to a held-out split.

Two inputs are read:

- the training-data store (``{data_dir}/training/pairs.jsonl``, lines with ``schema_version``),
  through ``evolution.store.TrainingStore.training_records()``, which leaves out the records
  that decontamination flagged;
- a plain JSONL file, one ``{"instruct": ..., "code": ...}`` or ``{"messages": [user,
  assistant]}`` (the store's ``export_chat()`` shape) per line, for data made elsewhere.

Each pair is keyed by the SHA-256 of its text. The held-out split is a function of that key
alone (key → a number in [0, 1) below ``eval_share``), so it does not depend on the order of
the file, and a held-out pair stays held out as the store grows.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.finetune.errors import DataError

# Fewer held-out pairs than this gives the gate's paired comparison nothing to stand on.
MIN_HELDOUT = 2


@dataclass(frozen=True)
class TrainingPair:
    """One (instruction, code) pair and its stable key."""

    instruct: str
    code: str
    key: str

    @classmethod
    def of(cls, instruct: str, code: str) -> TrainingPair:
        return cls(instruct, code, pair_key(instruct, code))

    def split_point(self) -> float:
        """Where the key falls in [0, 1): below ``eval_share`` means held out."""
        return int(self.key[:12], 16) / float(1 << 48)


def pair_key(instruct: str, code: str) -> str:
    """SHA-256 of the pair's exact text (the same value as the store's ``content_hash``)."""
    blob = json.dumps([instruct, code], ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(blob).hexdigest()


def load_pairs(path: str | os.PathLike[str]) -> list[TrainingPair]:
    """Read every trainable pair from the store or a JSONL file; duplicates are dropped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"no training data at {path}: accept some self-evolutions first (they are stored "
            "there), or pass --data with a JSONL file of {instruct, code} records"
        )
    rows = _store_rows(path) if _is_store_file(path) else _jsonl_rows(path)
    pairs: dict[str, TrainingPair] = {}
    for instruct, code in rows:
        if instruct.strip() and code.strip():
            pair = TrainingPair.of(instruct, code)
            pairs.setdefault(pair.key, pair)
    return list(pairs.values())


def split_heldout(
    pairs: Iterable[TrainingPair], eval_share: float
) -> tuple[list[TrainingPair], list[TrainingPair]]:
    """Split into (train, held-out) by key; at least :data:`MIN_HELDOUT` pairs are held out.

    When the share gives fewer (a small store), the pairs with the lowest split points are
    added: still independent of order, and the first ones a bigger store would hold out.
    """
    ordered = sorted(pairs, key=TrainingPair.split_point)
    n_heldout = sum(1 for p in ordered if p.split_point() < eval_share)
    n_heldout = max(n_heldout, min(MIN_HELDOUT, len(ordered) - 1))
    return ordered[n_heldout:], ordered[:n_heldout]


def data_hash(pairs: Iterable[TrainingPair]) -> str:
    """One hash for a set of pairs, independent of their order."""
    digest = hashlib.sha256()
    for key in sorted(p.key for p in pairs):
        digest.update(key.encode("ascii"))
    return digest.hexdigest()


def write_snapshot(path: Path, pairs: Iterable[TrainingPair]) -> None:
    """Freeze a run's pairs beside it, so a resumed run trains on exactly the same data."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for p in pairs:
            out.write(json.dumps({"instruct": p.instruct, "code": p.code}, ensure_ascii=False))
            out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _is_store_file(path: Path) -> bool:
    with path.open("r", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.strip():
                try:
                    first = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(first, dict) and "schema_version" in first
    return False


def _store_rows(path: Path) -> Iterator[tuple[str, str]]:
    from evolution.store import TrainingStore

    with TrainingStore(path) as store:
        for record in store.training_records():
            yield record.instruct, record.code


def _jsonl_rows(path: Path) -> Iterator[tuple[str, str]]:
    with path.open("r", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                message = f"{path}:{number}: not JSON ({exc.msg}); fix or remove the line"
                raise DataError(message) from exc
            pair = _pair_of(row)
            if pair is None:
                raise DataError(
                    f"{path}:{number}: expected {{'instruct', 'code'}} or {{'messages': "
                    "[user, assistant]}}"
                )
            if not _flagged(row):
                yield pair


def _pair_of(row: Any) -> tuple[str, str] | None:
    if not isinstance(row, Mapping):
        return None
    if isinstance(row.get("instruct"), str) and isinstance(row.get("code"), str):
        return row["instruct"], row["code"]
    messages = row.get("messages")
    if isinstance(messages, list):
        user = [
            m.get("content") for m in messages if isinstance(m, Mapping) and m.get("role") == "user"
        ]
        bot = [
            m.get("content")
            for m in messages
            if isinstance(m, Mapping) and m.get("role") == "assistant"
        ]
        if (
            len(user) == 1
            and len(bot) == 1
            and isinstance(user[0], str)
            and isinstance(bot[0], str)
        ):
            return user[0], bot[0]
    return None


def _flagged(row: Mapping[str, Any]) -> bool:
    contamination = row.get("decontamination")
    return isinstance(contamination, Mapping) and bool(contamination.get("flagged"))
