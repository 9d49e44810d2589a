"""The engine of ``evoselfcode evolve``: many instructions through the gates into the store.

The instructions file is JSONL, one object per line (blank lines and ``#`` lines skipped)::

    {"id": "t1", "instruction": "Return the n-th Fibonacci number.", "path": "fib.py"}
    {"id": "t2", "code": "def mean(xs):\\n    return sum(xs) / len(xs)\\n",
     "instruction": "Return 0.0 for an empty list.", "function": "mean"}

- ``id`` (string or number): unique in the file; the unit of resume;
- ``instruction``: the task; without ``code``, the generator writes a new function for it;
- ``code`` (optional): source holding an existing function to improve (its docstring and
  comments join the instruction); ``function`` names it, else the first function is taken;
- ``path`` (optional): where the code lives, kept in the record's context.

Resume: each finished id (accepted, duplicate or rejected) is appended to a state file under
``{data_dir}/evolve/`` (fsync per line), and each recorded pair carries ``task_id`` =
``<file key>:<id>``; a rerun skips both. Errors (network, keys) are not "finished": a rerun
tries those ids again. A refused API key, or ``max_consecutive_errors`` errors in a row of any
kind, stops the batch early; what is left stays unfinished for the next run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolution.evolve.errors import InstructionsError
from evolution.evolve.flow import EvolveRequest, self_evolve
from evolution.evolve.locate import Position
from evolution.evolve.record import record_accepted
from evolution.evolve.result import EvolveResult
from evolution.evolve.settings import EvolveClients, EvolveSettings
from evolution.store.appendlog import AppendOnlyLog
from evolution.store.records import json_line

if TYPE_CHECKING:
    from evaluation.sandbox import Sandbox
    from evolution.store import TrainingStore

FINISHED = ("accepted", "duplicate", "rejected")


@dataclass(frozen=True)
class BatchItem:
    """One line of the instructions file."""

    id: str
    instruction: str | None
    code: str | None = None
    function: str | None = None
    path: str | None = None

    def request(self) -> EvolveRequest:
        if self.code is None:
            return EvolveRequest(instruction=self.instruction, path=self.path)
        return EvolveRequest(self.code, self._function_position(), self.path, self.instruction)

    def _function_position(self) -> Position:
        import re

        assert self.code is not None
        name = re.escape(self.function) if self.function else r"[A-Za-z_]\w*"
        pattern = re.compile(rf"^\s*(async\s+)?def\s+{name}\b")
        for number, line in enumerate(self.code.splitlines()):
            if pattern.match(line):
                return Position(number, len(line) - len(line.lstrip()))
        return Position(0, 0)  # locate_function then says what is missing


def read_instructions(path: str | os.PathLike[str]) -> list[BatchItem]:
    """Every item of an instructions file; ``InstructionsError`` names the bad line."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InstructionsError(f"cannot read the instructions file {source}: {exc}") from exc
    items: list[BatchItem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{source}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InstructionsError(f"{where}: not JSON ({exc.msg})") from exc
        item = _item(data, where)
        if item.id in seen:
            raise InstructionsError(f"{where}: id {item.id!r} already used on line {seen[item.id]}")
        seen[item.id] = number
        items.append(item)
    return items


def _item(data: Any, where: str) -> BatchItem:
    if not isinstance(data, dict):
        raise InstructionsError(f"{where}: expected an object with id and instruction")
    unknown = sorted(set(data) - {"id", "instruction", "code", "function", "path"})
    if unknown:
        raise InstructionsError(f"{where}: unknown key {unknown[0]!r}")
    if not isinstance(data.get("id"), (str, int)) or isinstance(data.get("id"), bool):
        raise InstructionsError(f"{where}: id must be a string or a number")
    for key in ("instruction", "code", "function", "path"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise InstructionsError(f"{where}: {key} must be a string")
    instruction, code = data.get("instruction"), data.get("code")
    if not (instruction or "").strip() and not (code or "").strip():
        raise InstructionsError(f"{where}: give an instruction, code, or both")
    return BatchItem(str(data["id"]), instruction, code, data.get("function"), data.get("path"))


def file_key(path: str | os.PathLike[str]) -> str:
    """``<stem>-<hash of the absolute path>``: names the state file and prefixes task ids."""
    resolved = Path(path).resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{resolved.stem}-{digest}"


class BatchState:
    """The resume log of one instructions file: one fsynced line per finished item."""

    def __init__(self, data_dir: str | os.PathLike[str], key: str) -> None:
        self.key = key
        self.path = Path(data_dir) / "evolve" / f"{key}.state.jsonl"
        self._log = AppendOnlyLog(self.path)
        with self._log.locked():
            self._log.set_aside_torn_tail()
        self.finished: dict[str, str] = {}
        for _, line in self._log.lines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("status") in FINISHED:
                self.finished[str(entry["id"])] = entry["status"]

    def task_id(self, item_id: str) -> str:
        return f"{self.key}:{item_id}"

    def note(self, item_id: str, result: EvolveResult, status: str, record_id: str | None) -> None:
        entry = {
            "id": item_id,
            "status": status,
            "rejected_by": result.rejected_by,
            "reason": result.reason,
            "record_id": record_id,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        with self._log.locked():
            self._log.append(json_line(entry))
        if status in FINISHED:
            self.finished[item_id] = status

    def close(self) -> None:
        self._log.close()


@dataclass
class BatchSummary:
    """What a batch run did; ``to_dict`` is the command's JSON result."""

    total: int = 0
    skipped: int = 0  # finished by an earlier run
    processed: int = 0
    recorded: int = 0
    duplicates: int = 0
    flagged: int = 0  # recorded but flagged by decontamination (kept out of training)
    passed: Counter[str] = field(default_factory=Counter)  # per gate
    rejected_by: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None
    stopped_early: str | None = None
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "skipped": self.skipped,
            "processed": self.processed,
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "flagged": self.flagged,
            "passedPerGate": dict(self.passed),
            "rejectedBy": dict(self.rejected_by),
            "errors": dict(self.errors),
            "lastError": self.last_error,
            "stoppedEarly": self.stopped_early,
            "durationS": round(self.duration_s, 3),
        }


ItemCallback = Callable[[BatchItem, str, EvolveResult], None]


def unfinished(items: list[BatchItem], state: BatchState, store: TrainingStore) -> list[BatchItem]:
    """The items no earlier run finished (by the state file, or by a record in the store)."""
    stored = store.task_ids()
    return [
        item
        for item in items
        if item.id not in state.finished and state.task_id(item.id) not in stored
    ]


async def run_batch(
    items: list[BatchItem],
    settings: EvolveSettings,
    store: TrainingStore,
    state: BatchState,
    *,
    sandbox: Sandbox,
    concurrency: int = 4,
    max_consecutive_errors: int = 10,
    on_item: ItemCallback | None = None,
    clients: EvolveClients | None = None,
) -> BatchSummary:
    """Evolve every unfinished item, ``concurrency`` at a time (see the module docstring)."""
    started = time.perf_counter()
    summary = BatchSummary(total=len(items))
    todo = unfinished(items, state, store)
    summary.skipped = len(items) - len(todo)
    runner = _BatchRunner(settings, store, state, sandbox, summary, max_consecutive_errors, on_item)
    own_clients = clients is None
    clients = clients or EvolveClients.open(settings)
    try:
        await runner.run(todo, clients, concurrency)
    finally:
        if own_clients:
            await clients.aclose()
    summary.duration_s = time.perf_counter() - started
    return summary


class _BatchRunner:
    def __init__(
        self,
        settings: EvolveSettings,
        store: TrainingStore,
        state: BatchState,
        sandbox: Sandbox,
        summary: BatchSummary,
        max_consecutive_errors: int,
        on_item: ItemCallback | None,
    ) -> None:
        self.settings, self.store, self.state, self.sandbox = settings, store, state, sandbox
        self.summary = summary
        self.max_errors = max_consecutive_errors
        self.on_item = on_item
        self.error_streak = 0
        self.stop = asyncio.Event()

    async def run(self, todo: list[BatchItem], clients: EvolveClients, concurrency: int) -> None:
        queue: asyncio.Queue[BatchItem] = asyncio.Queue()
        for item in todo:
            queue.put_nowait(item)

        async def worker() -> None:
            while not self.stop.is_set():
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await self._one(item, clients)

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))

    async def _one(self, item: BatchItem, clients: EvolveClients) -> None:
        result = await self_evolve(
            item.request(), self.settings, clients=clients, sandbox=self.sandbox
        )
        summary = self.summary
        summary.processed += 1
        summary.passed.update(gate.name for gate in result.gates if gate.passed)
        record_id = None
        if result.ok:
            outcome = await asyncio.to_thread(
                record_accepted,
                self.store,
                result,
                source="batch",
                task_id=self.state.task_id(item.id),
            )
            status = "accepted" if outcome.recorded else "duplicate"
            record_id = outcome.record_id or outcome.duplicate_of
            summary.recorded += outcome.recorded
            summary.duplicates += not outcome.recorded
            summary.flagged += outcome.flagged
        elif result.status == "rejected":
            status = "rejected"
            summary.rejected_by[result.rejected_by or "?"] += 1
        else:
            status = "error"
            summary.errors[result.error.kind if result.error else "error"] += 1
            summary.last_error = result.reason
        await asyncio.to_thread(self.state.note, item.id, result, status, record_id)
        self._watch_errors(status, result)
        if self.on_item is not None:
            self.on_item(item, status, result)

    def _watch_errors(self, status: str, result: EvolveResult) -> None:
        if status != "error":
            self.error_streak = 0
            return
        self.error_streak += 1
        kind = result.error.kind if result.error else ""
        if kind == "AuthenticationError":
            self.summary.stopped_early = "stopped: the API key was refused"
            self.stop.set()
        elif self.error_streak >= self.max_errors:
            self.summary.stopped_early = f"stopped after {self.error_streak} errors in a row"
            self.stop.set()
