"""Making up for servers that ignore ``n`` or ``stop`` (seen with some OpenAI-compatible servers).

Shared by the OpenAI and custom-endpoint clients; each repair is logged once per client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from evolution.clients.choice import Choice, cut_at_stop
from evolution.clients.config import ClientConfig
from evolution.clients.errors import MalformedResponse

logger = logging.getLogger(__name__)


class Repairs:
    """The repairs of one client, remembering which it has already warned about."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._warned: set[str] = set()

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)

    async def fill(
        self,
        url: str,
        choices: list[Choice],
        n: int,
        fetch: Callable[[int], Awaitable[list[Choice]]],
    ) -> list[Choice]:
        """``n`` choices indexed 0..n-1: fetch the missing ones when there are too few."""
        if not choices:
            raise MalformedResponse(url, "the answer has no choices")
        choices = sorted(choices, key=lambda c: c.index)
        while len(choices) < n and self.config.fill_missing_choices:
            self._warn_once(
                "n",
                "%s returned %d of %d choices (it may ignore n); asking again for the rest",
                self.config.name,
                len(choices),
                n,
            )
            more = await fetch(n - len(choices))
            if not more:
                raise MalformedResponse(url, "the answer has no choices")
            choices += sorted(more, key=lambda c: c.index)
        return [replace(c, index=i) for i, c in enumerate(choices[:n])]

    def stop(self, choices: list[Choice], stops: Sequence[str], start: int = 0) -> list[Choice]:
        """Cut texts that run past a stop sequence (after ``start``, e.g. an echoed prompt)."""
        if not stops or not self.config.enforce_stop:
            return choices
        cut = [cut_at_stop(c, stops, start) for c in choices]
        if cut != choices:
            self._warn_once(
                "stop", "%s ignored the stop sequences; cutting the text here", self.config.name
            )
        return cut
