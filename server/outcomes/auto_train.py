"""Train the workspace's completion adapter by itself after N new accepted completions
(``evoselfcode.completion.trainAfterAccepts``; 0, the default, never does).

"New" means accepted (whole or partly) in the workspace's first folder since its last
completion adapter was trained: at the start the outcome log is counted from that adapter's
creation time (or from the beginning when there is none), then each acceptance the tracker
settles adds one (each suggestion once, also when its outcome is corrected). When the count
reaches N and no fine-tuning run is going, ``evoselfcode.fineTune`` starts with the workspace
(``finetune --workspace``), exactly as the palette's command does; the count starts again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from server.context import in_folder
from server.errors import ServerError
from server.outcomes.acceptance_watch import TAKEN

if TYPE_CHECKING:
    from server.outcomes.tracker import Suggestion
    from server.server import EvoServer

log = logging.getLogger(__name__)


class AutoTrainer:
    def __init__(self, ls: EvoServer) -> None:
        self.ls = ls
        self.accepted: set[str] = set()  # suggestion ids since the last training
        self._folder: tuple[str, str] | None = None  # (folder uri, data dir) counted for

    @property
    def threshold(self) -> int:
        return self.ls.settings.completion.train_after_accepts

    async def start(self) -> None:
        """Count the log's accepted completions since the workspace's last adapter (once per
        folder and data folder; call after the settings are known)."""
        folder_uri, folder = self.ls.workspace_folder_uri(), self.ls.workspace_folder_path()
        key = (folder_uri or "", self.ls.settings.data_dir)
        if self.threshold == 0 or folder_uri is None or folder is None or key == self._folder:
            return
        self._folder = key
        self.accepted = set()
        try:
            since = await asyncio.to_thread(_last_trained, self.ls.settings.data_dir, folder)
            contents = await asyncio.to_thread(self.ls.outcome_log().read)
        except Exception as exc:  # an unreadable registry or log: count from now
            log.warning("counting accepted completions from now: %s", exc)
            return
        self.accepted |= {
            str(record.get("id"))
            for record in contents.records
            if record.get("outcome") in TAKEN
            and in_folder(str(record.get("uri", "")), folder_uri)
            and _after(record.get("shown_at"), since)
        }
        self._maybe_train()
        self.ls.outcomes_changed()

    def settled(self, suggestion: Suggestion) -> None:
        folder_uri = self.ls.workspace_folder_uri()
        if self.threshold == 0 or folder_uri is None or suggestion.outcome not in TAKEN:
            return
        if in_folder(suggestion.served.uri, folder_uri):
            self.accepted.add(suggestion.id)
            self._maybe_train()

    def summary(self) -> dict[str, Any] | None:
        if self.threshold == 0:
            return None
        return {"acceptedSinceTraining": len(self.accepted), "trainAfter": self.threshold}

    def _maybe_train(self) -> None:
        run = self.ls.finetune_run
        if len(self.accepted) < self.threshold or (run is not None and run.active):
            return
        folder = self.ls.workspace_folder_path()
        if folder is None:
            return
        count = len(self.accepted)
        self.accepted.clear()
        self.ls.spawn(self._train(folder, count))

    async def _train(self, folder: str, count: int) -> None:
        from server.runs.finetune import start_run

        try:
            run = await start_run(self.ls, {"workspace": folder}, resume=False)
        except ServerError as exc:
            log.warning("could not start the workspace's fine-tuning: %s", exc)
            return
        log.info(
            "%d new accepted completions: fine-tuning %s on %s (%s)",
            count,
            run.run_id,
            folder,
            "evoselfcode.completion.trainAfterAccepts",
        )


def _after(stamp: Any, since: datetime | None) -> bool:
    try:
        return since is None or datetime.fromisoformat(str(stamp)) > since
    except ValueError:
        return False  # a damaged time: not counted


def _last_trained(data_dir: str, folder: str) -> datetime | None:
    """When the workspace's newest completion adapter was made (None: never)."""
    from evolution.finetune import AdapterRegistry
    from evolution.finetune.workspace_data import completion_registry_root
    from models.paths import resolve_data_dir

    registry = AdapterRegistry(completion_registry_root(resolve_data_dir(data_dir), folder))
    made = [datetime.fromisoformat(record.created_at) for record in registry.records()]
    return max(made, default=None)
