"""The adapter registry: every trained adapter, its provenance, and which one serves.

Layout under ``{data_dir}/adapters`` (overridable)::

    registry.json          {"schema": 1, "promoted": id | null, "stack": [ids promoted, oldest
                            first], "adapters": {id: record}, "events": [{at, action, id, reason}]}
    registry.lock          the lock every writer holds
    <id>/                  adapter_config.json, adapter_model.safetensors, report.{json,txt,html}

A record holds the adapter's id, base model, data hash, config, metrics, parent (the adapter
that was serving when it was trained, i.e. the baseline it was judged against), creation time,
status (``candidate`` → ``promoted`` | ``rejected``; ``retired`` when replaced, ``rolled_back``)
and the gate's decision. Every change is read-modify-write under a file lock, and the new file
is written aside and renamed over the old one, so readers (the language server) never see a
half-written registry and concurrent writers never lose each other's changes. An unreadable
registry file is reported and never overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evolution.finetune.errors import (
    AdapterNotFound,
    PromotionRefused,
    RegistryError,
    RegistryLocked,
)

REGISTRY_FILE = "registry.json"
SCHEMA = 1
ADAPTER_WEIGHTS = "adapter_model.safetensors"


@dataclass
class AdapterRecord:
    """One adapter in the registry."""

    id: str
    base_model: str
    data_hash: str
    created_at: str
    status: str = "candidate"
    parent: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] | None = None
    report: str | None = None  # file name of the JSON report in the adapter's folder
    random_weights: bool = False  # trained on a random-weight test model
    run_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class AdapterRegistry:
    """Read and change the registry at ``root`` (default ``{data_dir}/adapters``)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, lock_timeout_s: float = 30):
        if root is None:
            from models.paths import default_data_dir

            root = default_data_dir() / "adapters"
        self.root = Path(root)
        self.lock_timeout_s = lock_timeout_s

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str]) -> AdapterRegistry:
        return cls(Path(data_dir) / "adapters")

    @property
    def file(self) -> Path:
        return self.root / REGISTRY_FILE

    # --- reading ---------------------------------------------------------------------------

    def records(self) -> list[AdapterRecord]:
        """Every adapter, oldest first."""
        state = self._read()
        records = [AdapterRecord.from_dict(r) for r in state["adapters"].values()]
        return sorted(records, key=lambda r: (r.created_at, r.id))

    def get(self, adapter_id: str) -> AdapterRecord:
        return AdapterRecord.from_dict(self._entry(self._read(), adapter_id))

    def promoted(self) -> AdapterRecord | None:
        state = self._read()
        return self.get(state["promoted"]) if state["promoted"] else None

    def path_of(self, adapter_id: str) -> Path:
        """The folder holding the adapter's files (peft's format) and its reports."""
        return self.root / adapter_id

    def events(self) -> list[dict[str, Any]]:
        return list(self._read()["events"])

    # --- changing --------------------------------------------------------------------------

    def add(self, adapter_folder: Path, record: AdapterRecord) -> AdapterRecord:
        """Copy a saved adapter into the registry under a new id (``record.id`` if free)."""
        with self._locked() as state:
            adapter_id = record.id
            suffix = 1
            while adapter_id in state["adapters"] or self.path_of(adapter_id).exists():
                suffix += 1
                adapter_id = f"{record.id}-{suffix}"
            record.id = adapter_id
            staging = self.root / f".tmp-{adapter_id}"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(adapter_folder, staging)
            os.rename(staging, self.path_of(adapter_id))
            state["adapters"][adapter_id] = record.to_dict()
            _event(state, "add", adapter_id, f"trained on data {record.data_hash[:12]}")
        return record

    def update(self, adapter_id: str, **changes: Any) -> AdapterRecord:
        """Set fields of a record (metrics, gate, report, ...), not its status."""
        if "status" in changes or "id" in changes:
            raise ValueError("status and id change through promote/reject/rollback only")
        with self._locked() as state:
            entry = self._entry(state, adapter_id)
            entry.update(changes)
        return AdapterRecord.from_dict(entry)

    def promote(self, adapter_id: str, *, reason: str, force: bool = False) -> AdapterRecord:
        """Make ``adapter_id`` the serving adapter; a gate-rejected one needs ``force``."""
        with self._locked() as state:
            entry = self._entry(state, adapter_id)
            if entry["status"] == "rejected" and not force:
                why = _last_reason(state, adapter_id, "reject")
                raise PromotionRefused(
                    f"adapter {adapter_id} was refused by the promotion gate ({why}); "
                    "pass --force to promote it anyway"
                )
            if not (self.path_of(adapter_id) / ADAPTER_WEIGHTS).is_file():
                raise RegistryError(
                    f"adapter {adapter_id} has no {ADAPTER_WEIGHTS} in {self.path_of(adapter_id)}"
                )
            if state["promoted"] == adapter_id:
                return AdapterRecord.from_dict(entry)
            if state["promoted"]:
                state["adapters"][state["promoted"]]["status"] = "retired"
            entry["status"] = "promoted"
            state["promoted"] = adapter_id
            state["stack"].append(adapter_id)
            _event(state, "promote", adapter_id, reason)
        return AdapterRecord.from_dict(entry)

    def reject(self, adapter_id: str, *, reason: str) -> AdapterRecord:
        """Mark a candidate as refused by the gate (the serving adapter does not change)."""
        with self._locked() as state:
            entry = self._entry(state, adapter_id)
            if entry["status"] != "promoted":
                entry["status"] = "rejected"
            _event(state, "reject", adapter_id, reason)
        return AdapterRecord.from_dict(entry)

    def rollback(self, *, reason: str = "manual rollback") -> AdapterRecord | None:
        """Serve the adapter promoted before the current one (None: back to the base model)."""
        with self._locked() as state:
            current = state["promoted"]
            if not current:
                raise RegistryError(
                    "nothing to roll back: no adapter is promoted (the base serves)"
                )
            state["adapters"][current]["status"] = "rolled_back"
            stack = [i for i in state["stack"] if i != current and i in state["adapters"]]
            state["stack"] = stack
            state["promoted"] = stack[-1] if stack else None
            if state["promoted"]:
                state["adapters"][state["promoted"]]["status"] = "promoted"
            _event(state, "rollback", current, reason)
            restored = state["promoted"]
        return self.get(restored) if restored else None

    # --- storage ---------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            text = self.file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"schema": SCHEMA, "promoted": None, "stack": [], "adapters": {}, "events": []}
        except OSError as exc:
            raise RegistryError(f"cannot read the adapter registry {self.file}: {exc}") from exc
        try:
            state = json.loads(text)
            if not isinstance(state.get("adapters"), dict):
                raise ValueError("no 'adapters' mapping")
        except (ValueError, AttributeError) as exc:
            raise RegistryError(
                f"the adapter registry {self.file} is unreadable ({exc}); it was left untouched: "
                "restore it or move it away to start a new one"
            ) from exc
        state.setdefault("promoted", None)
        state.setdefault("stack", [])
        state.setdefault("events", [])
        return state

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold the lock, yield the current state, write it back if the block succeeds."""
        from filelock import FileLock, Timeout

        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / "registry.lock"), timeout=self.lock_timeout_s)
        try:
            lock.acquire()
        except Timeout as exc:
            raise RegistryLocked(
                f"the adapter registry {self.root} stayed locked for {self.lock_timeout_s:g} s "
                "(another evoselfcode process is writing it); try again"
            ) from exc
        try:
            state = self._read()
            yield state
            self._write(state)
        finally:
            lock.release()

    def _write(self, state: dict[str, Any]) -> None:
        staging = self.root / f".{REGISTRY_FILE}.{os.getpid()}.tmp"
        with staging.open("w", encoding="utf-8") as out:
            json.dump(state, out, indent=1, ensure_ascii=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, self.file)

    def _entry(self, state: dict[str, Any], adapter_id: str) -> dict[str, Any]:
        try:
            return state["adapters"][adapter_id]
        except KeyError:
            known = ", ".join(sorted(state["adapters"])) or "none yet"
            raise AdapterNotFound(
                f"no adapter {adapter_id!r} in {self.root} (known: {known})"
            ) from None


def new_adapter_id(data_hash: str, now: datetime | None = None) -> str:
    """``ft-20261121-083012-1a2b3c``: sortable by time, with the data it was trained on."""
    now = now or datetime.now(timezone.utc)
    return f"ft-{now:%Y%m%d-%H%M%S}-{data_hash[:6]}"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _last_reason(state: dict[str, Any], adapter_id: str, action: str) -> str:
    for event in reversed(state["events"]):
        if event["id"] == adapter_id and event["action"] == action:
            return event["reason"]
    return "no reason recorded"


def _event(state: dict[str, Any], action: str, adapter_id: str, reason: str) -> None:
    state["events"].append({"at": utc_now(), "action": action, "id": adapter_id, "reason": reason})
