"""Run folders: where a fine-tuning run keeps its state, data snapshot, checkpoints and adapter.

    {data_dir}/finetune/<run id>/   (or the config's save_path)
        run.json          run id, config, data path and hash, state, adapter id
        data.jsonl        the pairs the run trains on (frozen at the start, used on resume)
        checkpoints/      see checkpoint.py
        adapter/          the final adapter, published atomically

``state`` moves ``training`` → ``trained`` (adapter saved and registered) → ``finished``
(gate done); ``stopped`` when cancelled. A run that is not ``finished`` can be resumed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evolution.finetune.errors import ResumeError, SavePathExists

RUN_FILE = "run.json"
LATEST = "latest-run"  # under the runs folder: the path of the newest run, wherever it is


@dataclass(frozen=True)
class RunFolder:
    """One run's folder and its ``run.json``."""

    path: Path

    @property
    def data_file(self) -> Path:
        return self.path / "data.jsonl"

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    @property
    def run_id(self) -> str:
        return self.path.name

    def read(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResumeError(f"{self.path} has no readable {RUN_FILE}: {exc}") from exc

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the run's lock: a second process on the same run is refused, not interleaved."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path / ".lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ResumeError(
                f"another `evoselfcode finetune` is running in {self.path}; wait for it or stop it"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def update(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into run.json (written aside, then renamed)."""
        current = self.read() if (self.path / RUN_FILE).is_file() else {}
        current.update(changes)
        staging = self.path / f".{RUN_FILE}.tmp"
        staging.write_text(json.dumps(current, indent=1, ensure_ascii=False), encoding="utf-8")
        os.replace(staging, self.path / RUN_FILE)
        return current


def runs_root(data_dir: Path) -> Path:
    return data_dir / "finetune"


def new_run(data_dir: Path, save_path: str, *, overwrite: bool) -> RunFolder:
    """A fresh run folder; an existing non-empty save path needs ``overwrite``."""
    if save_path:
        path = Path(save_path).expanduser()
    else:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        path = runs_root(data_dir) / f"run-{stamp}"
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise SavePathExists(
                f"the save path {path} already exists: pass --resume to continue that run or "
                "--overwrite to replace it"
            )
        if not (path / RUN_FILE).is_file():
            raise SavePathExists(
                f"{path} is not a fine-tuning run folder (no {RUN_FILE}); --overwrite only "
                "replaces run folders: pick another --save-path"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    runs_root(data_dir).mkdir(parents=True, exist_ok=True)
    (runs_root(data_dir) / LATEST).write_text(str(path.resolve()), encoding="utf-8")
    return RunFolder(path)


def run_to_resume(data_dir: Path, save_path: str) -> RunFolder:
    """The run named by ``save_path``, else the newest unfinished run of this data folder."""
    if save_path:
        folder = RunFolder(Path(save_path).expanduser())
        state = folder.read().get("state")
        if state == "finished":
            raise ResumeError(f"the run in {folder.path} already finished: nothing to resume")
        return folder
    candidates = []
    root = runs_root(data_dir)
    folders = {child for child in root.iterdir() if child.is_dir()} if root.is_dir() else set()
    latest = root / LATEST
    if latest.is_file():  # a run with its own --save-path lives outside the runs folder
        folders.add(Path(latest.read_text(encoding="utf-8").strip()))
    for child in folders:
        try:
            info = json.loads((child / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if info.get("state") != "finished":
            candidates.append((info.get("created_at", ""), child))
    if not candidates:
        raise ResumeError(f"no unfinished fine-tuning run in {root} to resume")
    return RunFolder(max(candidates)[1])
