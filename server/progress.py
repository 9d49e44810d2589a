"""``$/progress`` bars for long commands: cancellable, throttled, silent for clients without.

LSP has two kinds. A client may hand a ``workDoneToken`` with its request (client-initiated:
VS Code's extension does for self-evolve); otherwise the server asks for a token with
``window/workDoneProgress/create``, which needs the client capability
``window.workDoneProgress``. Runs that outlive their request (fine-tuning, evaluation) always
create their own. ``window/workDoneProgress/cancel`` runs the callbacks given to
``on_cancel``. Reports are sent at most every ``REPORT_INTERVAL_S``; ``end`` always goes out.
Call everything on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from server.server import EvoServer

log = logging.getLogger(__name__)
REPORT_INTERVAL_S = 0.25
CREATE_TIMEOUT_S = 10


class WorkProgress:
    """One progress bar; every method is a no-op when the client shows none."""

    def __init__(self, ls: EvoServer, token: types.ProgressToken | None):
        self.ls, self.token = ls, token
        self.ended = False
        self._reported_at = 0.0

    @classmethod
    async def start(
        cls,
        ls: EvoServer,
        title: str,
        *,
        message: str | None = None,
        cancellable: bool = True,
        token: types.ProgressToken | None = None,
        kind: str = "run",
    ) -> WorkProgress:
        """Begin a bar on ``token`` (the request's own) or on a new server-created one."""
        if token is None:
            window = ls.client_capabilities.window
            if window is None or not window.work_done_progress:
                return cls(ls, None)
            token = f"evoselfcode-{kind}-{uuid.uuid4().hex[:8]}"
            try:
                await asyncio.wait_for(ls.work_done_progress.create_async(token), CREATE_TIMEOUT_S)
            except Exception as exc:  # the client refused or never answered: no bar
                log.debug("no progress bar: %s", exc)
                return cls(ls, None)
        begin = types.WorkDoneProgressBegin(
            title=title, message=message, cancellable=cancellable, percentage=0
        )
        ls.work_done_progress.begin(token, begin)
        return cls(ls, token)

    def on_cancel(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` when the user cancels the bar."""
        if self.token is None:
            return
        future = self.ls.work_done_progress.tokens.get(self.token)
        if future is not None:
            future.add_done_callback(lambda f: f.cancelled() and callback())

    def report(
        self, message: str | None = None, percentage: float | None = None, *, force: bool = False
    ) -> None:
        """Show ``message`` (and a 0-100 ``percentage``); dropped when too soon after the last."""
        token = self.token
        if token is None or self.ended:
            return
        now = time.monotonic()
        if not force and now - self._reported_at < REPORT_INTERVAL_S:
            return
        self._reported_at = now
        shown = None if percentage is None else max(0, min(100, int(percentage)))
        report = types.WorkDoneProgressReport(message=message, percentage=shown)
        self._send(lambda: self.ls.work_done_progress.report(token, report))

    def end(self, message: str | None = None) -> None:
        token = self.token
        if token is None or self.ended:
            return
        self.ended = True
        end = types.WorkDoneProgressEnd(message=message)
        self._send(lambda: self.ls.work_done_progress.end(token, end))
        self.ls.work_done_progress.tokens.pop(token, None)

    @staticmethod
    def _send(send: Callable[[], None]) -> None:
        try:
            send()
        except Exception:  # the client is gone: nothing to show it
            log.debug("could not send progress", exc_info=True)
