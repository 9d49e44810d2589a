"""Watches the promoted adapter the completion model serves, and rolls it back by itself when
users take its suggestions significantly less often than its predecessor's
(``acceptance_watch``).

A watch starts whenever the served adapter changes to one chosen by promotion (the
``evoselfcode.adapter`` setting ``promoted``; an adapter named by id or folder is the user's
choice and is not second-guessed). Its baseline comes from the outcome log, read off the event
loop; settled suggestions then arrive from the tracker. A rollback goes to the registry that
promoted the adapter (the workspace's completion registry or the instruction registry), is
recorded there with its reason, hot-swaps the model to what serves next, and is told to the
user in a message and in the status (``completions.outcomes.acceptanceWatch``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from server.outcomes.acceptance_watch import AcceptanceWatch, Rollback

if TYPE_CHECKING:
    from evolution.finetune.serving import AdapterChoice
    from server.outcomes.tracker import Suggestion
    from server.server import EvoServer

log = logging.getLogger(__name__)


class AcceptanceGuard:
    def __init__(self, ls: EvoServer) -> None:
        self.ls = ls
        self.watch: AcceptanceWatch | None = None
        self.last_rollback: dict[str, Any] | None = None  # shown after the swap ends the watch
        self._watching: AdapterChoice | None = None  # what the watch (or its start) is for

    def serving_changed(self, choice: AdapterChoice | None) -> None:
        """The model serves ``choice`` now (on the event loop)."""
        if choice == self._watching:
            return
        self._watching = choice
        self.watch = None
        if choice is not None and choice.promoted:
            self.ls.spawn(self._start(choice))
        self._publish()

    def settled(self, suggestion: Suggestion) -> None:
        """The tracker settled (or corrected) a suggestion's outcome (on the event loop)."""
        watch, served = self.watch, suggestion.served
        if watch is None or suggestion.outcome is None:
            return
        verdict = watch.observe(
            suggestion.id, served.uri, served.model, served.adapter, suggestion.outcome
        )
        if verdict is not None:
            self.ls.spawn(self._roll_back(watch, verdict))

    def summary(self) -> dict[str, Any] | None:
        summary = self.watch.summary() if self.watch is not None else None
        if self.last_rollback is not None:
            summary = {**(summary or {}), "lastRollback": self.last_rollback}
        return summary

    async def _start(self, choice: AdapterChoice) -> None:
        outcome_log = self.ls.outcome_log()
        try:
            contents = await asyncio.to_thread(outcome_log.read)
        except OSError as exc:
            log.warning(
                "not watching %s's acceptance: cannot read %s: %s",
                choice.name,
                outcome_log.path,
                exc,
            )
            return
        if self._watching != choice:
            return  # another adapter serves since
        watch = AcceptanceWatch.from_log(
            contents.records,
            adapter=choice.name,
            model=self.ls.status.model.model,
            workspace_uri=self.ls.workspace_folder_uri(),
        )
        self.watch = watch
        log.info(
            "watching live acceptance of %s against %s (%s)",
            choice.name,
            watch.previous or "the base model",
            watch.state,
        )
        self._publish()
        if (verdict := watch.catch_up()) is not None:
            await self._roll_back(watch, verdict)

    async def _roll_back(self, watch: AcceptanceWatch, verdict: Rollback) -> None:
        from evolution.finetune import AdapterRegistry, FinetuneError

        choice = self._watching
        if choice is None or choice.name != watch.adapter or choice.registry is None:
            return  # it no longer serves
        registry = AdapterRegistry(choice.registry)
        try:
            promoted = await asyncio.to_thread(registry.promoted)
            if promoted is None or promoted.id != watch.adapter:
                return  # promoted or rolled back elsewhere meanwhile
            reason = f"rolled back by itself: {verdict.reason}"
            await asyncio.to_thread(registry.rollback, reason=reason)
        except FinetuneError as exc:
            log.warning("could not roll back %s: %s", watch.adapter, exc)
            return
        message = (
            f"EvoSelfCode rolled back the adapter {watch.adapter}: {verdict.reason}. "
            "The adapter before it serves again."
        )
        log.warning("%s", message)
        self.last_rollback = {"adapter": watch.adapter, "reason": verdict.reason}
        self.ls.cache.clear()
        self.ls.host.refresh_adapter()
        self._publish()
        self.ls.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=message)
        )

    def _publish(self) -> None:
        self.ls.outcomes_changed()
