"""Live acceptance after a promotion: an adapter users take less often than the one before it
is rolled back by itself.

The promotion gate judges an adapter on held-out code before it serves; this watches what
happens once it serves. The comparison is the acceptance rate (accepted whole or partly, over
all settled suggestions, as the status shows it) of the promoted adapter now serving against
the adapter that served the same workspace just before it (the newest suggestion in the outcome
log from another adapter of the same base model; None is the base model). Suggestions from the
two are different suggestions, so the test is unpaired: Fisher's exact test, one-sided (is the
new rate lower?).

Testing after every suggestion would roll back a good adapter by chance sooner or later, so the
test runs at a few fixed looks (``LOOKS``: the new adapter's 40th, 80th, ... settled
suggestion), each at ``ALPHA``; with five looks a rollback of an adapter that is in truth as good
has at most a 5% chance (Bonferroni). After the last look the adapter is kept and the watch
ends. Without ``MIN_BEFORE`` suggestions of the previous adapter there is nothing to compare
with: the rates are shown and nothing is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from evolution.finetune.stats import fisher_exact_lower
from server.context import in_folder

TAKEN = ("accepted", "partial")
LOOKS = (40, 80, 160, 320, 640)
ALPHA = 0.01
MIN_BEFORE = 40

State = Literal["watching", "kept", "rolled-back", "no-baseline"]


@dataclass
class Tally:
    """Settled suggestions of one adapter: suggestion id -> taken (accepted or partial)."""

    taken: dict[str, bool] = field(default_factory=dict)

    @property
    def shown(self) -> int:
        return len(self.taken)

    @property
    def hits(self) -> int:
        return sum(self.taken.values())

    @property
    def rate(self) -> float | None:
        return self.hits / self.shown if self.shown else None

    def describe(self, name: str) -> str:
        rate = self.rate
        percent = "no suggestions" if rate is None else f"{100 * rate:.0f}%"
        return f"{percent} of {self.shown} under {name}"


@dataclass(frozen=True)
class Rollback:
    """The decision to roll back, with the figures that support it."""

    reason: str


@dataclass
class AcceptanceWatch:
    """One promoted adapter's live acceptance against its predecessor's (see the module)."""

    adapter: str
    model: str
    workspace_uri: str | None  # only suggestions in this folder count (None: all)
    previous: str | None = None  # None: the base model
    before: Tally | None = None  # None: no earlier suggestion in this workspace
    now: Tally = field(default_factory=Tally)
    state: State = "watching"
    p_value: float | None = None
    looks_done: int = 0

    @classmethod
    def from_log(
        cls,
        records: Iterable[dict[str, Any]],
        *,
        adapter: str,
        model: str,
        workspace_uri: str | None,
    ) -> AcceptanceWatch:
        """Start from the outcome log (oldest first): the predecessor's suggestions, and this
        adapter's own from earlier sessions."""
        watch = cls(adapter, model, workspace_uri)
        mine = [r for r in records if watch._counts(r.get("uri"), r.get("model"))]
        for record in mine:
            if record.get("adapter") == adapter:
                watch.now.taken[str(record.get("id"))] = record.get("outcome") in TAKEN
        earlier = [r for r in mine if r.get("adapter") != adapter]
        if earlier:
            watch.previous = earlier[-1].get("adapter")
            watch.before = Tally(
                {
                    str(r.get("id")): r.get("outcome") in TAKEN
                    for r in earlier
                    if r.get("adapter") == watch.previous
                }
            )
        if watch.before is None or watch.before.shown < MIN_BEFORE:
            watch.state = "no-baseline"
        return watch

    def catch_up(self) -> Rollback | None:
        """After ``from_log``: the looks that earlier sessions' suggestions have passed, taken
        as one look now (a restart must not skip a rollback that was due)."""
        passed = sum(1 for look in LOOKS if self.now.shown >= look)
        if self.state != "watching" or passed <= self.looks_done:
            return None
        self.looks_done = passed
        if passed == len(LOOKS):  # watched to the end before: a look per restart would add up
            self.state = "kept"
            return None
        return self._look()

    def observe(
        self, suggestion_id: str, uri: str, model: str, adapter: str | None, outcome: str
    ) -> Rollback | None:
        """A suggestion settled (or its outcome was corrected); a rollback when a look finds
        acceptance significantly lower than the predecessor's."""
        if adapter != self.adapter or not self._counts(uri, model):
            return None
        self.now.taken[suggestion_id] = outcome in TAKEN
        if self.state != "watching" or self.looks_done >= len(LOOKS):
            return None
        if self.now.shown < LOOKS[self.looks_done]:
            return None
        self.looks_done += 1
        return self._look()

    def summary(self) -> dict[str, Any]:
        """``completions.outcomes.acceptanceWatch`` in the status."""
        before = self.before
        return {
            "adapter": self.adapter,
            "previous": self.previous if before is not None else None,
            "state": self.state,
            "rate": _rounded(self.now.rate),
            "shown": self.now.shown,
            "previousRate": _rounded(before.rate) if before else None,
            "previousShown": before.shown if before else 0,
            "pValue": None if self.p_value is None else float(f"{self.p_value:.3g}"),
            "nextLook": LOOKS[self.looks_done] if self.looks_done < len(LOOKS) else None,
        }

    def _look(self) -> Rollback | None:
        before = self.before
        assert before is not None  # "no-baseline" otherwise
        self.p_value = fisher_exact_lower(before.hits, before.shown, self.now.hits, self.now.shown)
        if self.p_value < ALPHA:
            self.state = "rolled-back"
            previous = self.previous or "the base model"
            return Rollback(
                f"live acceptance fell from {before.describe(previous)} to "
                f"{self.now.describe(self.adapter)} (one-sided Fisher exact p = "
                f"{self.p_value:.3g} < {ALPHA:g})"
            )
        if self.looks_done >= len(LOOKS):
            self.state = "kept"
        return None

    def _counts(self, uri: Any, model: Any) -> bool:
        if model != self.model or not isinstance(uri, str):
            return False
        return self.workspace_uri is None or in_folder(uri, self.workspace_uri)


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 3)
