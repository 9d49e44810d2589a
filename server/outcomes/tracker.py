"""Follows each served suggestion to its outcome, from document changes and client reports.

A served answer (all its candidates) is one suggestion with an id. Its outcome:

- ``accepted`` / ``partial``: a ``didChange`` wrote the suggestion (whole, or a piece of two or
  more characters of it, as VS Code's word-by-word acceptance does) where it was shown
  (*inferred*, from any client); or the client ran the item's command
  ``evoselfcode.completionAccepted`` (*observed*: VS Code runs it on whole acceptance).
- ``typed-over``: the user wrote something else where it was shown; ``dismissed``: the document
  changed elsewhere, another suggestion replaced it, or the document closed. Both wait
  ``grace_s`` before they are final, so that an acceptance report that comes after the change
  it made still counts.
- Typing the suggestion character by character moves it along; one typed out that way to its
  end, or replaced by the suggestion served after a typed character, is not recorded (it
  lives on as that next suggestion).

Accepted text is then followed through the changes and measured at each of ``checks``
(30 s and 5 min by default): how many of its characters are still there, and whether it was
reverted. The record is written after the last check, or at shutdown with what is known.
Everything runs on the event loop; ``schedule`` and ``checks`` are injected for tests.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from lsprotocol import types

from server.outcomes import edits
from server.outcomes.edits import Units

Outcome = Literal["accepted", "partial", "dismissed", "typed-over"]
Signal = Literal["observed", "inferred"]
State = Literal["shown", "settling", "retaining"]
Schedule = Callable[[float, Callable[[], None]], Any]  # loop.call_later's shape
ReadSpan = Callable[[str, types.Position, types.Position], "str | None"]

CHECKS: tuple[tuple[str, float], ...] = (("30s", 30.0), ("5m", 300.0))
CHECKS_ENV = "EVOSELFCODE_OUTCOME_CHECKS_S"
GRACE_S = 2.0
PARTIAL_MIN_CHARS = 2  # a shorter matching insert is typing, not acceptance


@dataclass(frozen=True)
class Served:
    """What the completion handler served: where, which texts, by which model."""

    uri: str
    position: types.Position
    start: types.Position  # where the items' text begins (their range)
    end: types.Position  # the end of the text they replace
    texts: tuple[str, ...]
    model: str
    adapter: str | None = None


@dataclass
class Suggestion:
    id: str
    served: Served
    shown_at: str
    state: State = "shown"
    cursor: types.Position = field(init=False)  # where its next character would be written
    end: types.Position = field(init=False)
    alive: list[int] = field(init=False)  # candidates consistent with what was written
    matched: int = 0  # characters of it written so far (accepted or typed)
    accepted_chars: int = 0
    accepted_from: int = 0  # offset in the text where the accepted part begins
    region: tuple[types.Position, types.Position] | None = None  # the accepted text now
    outcome: Outcome | None = None
    signal: Signal = "inferred"
    retained: dict[str, int | None] = field(default_factory=dict)
    reverted: bool | None = None
    closed: bool = False
    timers: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cursor, self.end = self.served.start, self.served.end
        self.alive = list(range(len(self.served.texts)))

    @property
    def text(self) -> str:
        return self.served.texts[self.alive[0]]

    def record(self) -> dict[str, Any]:
        served = self.served
        return {
            "id": self.id,
            "uri": served.uri,
            "position": {"line": served.position.line, "character": served.position.character},
            "text": self.text,
            "candidate": self.alive[0],
            "candidates": len(served.texts),
            "model": served.model,
            "adapter": served.adapter,
            "shown_at": self.shown_at,
            "outcome": self.outcome,
            "signal": self.signal,
            "accepted_chars": self.accepted_chars,
            **{f"retained_{label}": self.retained.get(label) for label, _ in CHECKS},
            "reverted": self.reverted,
            "settled_at": _now(),
        }


@dataclass
class Counts:
    shown: int = 0
    outcomes: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("accepted", "partial", "dismissed", "typed-over"), 0)
    )
    reverted: int = 0
    accepted_chars: dict[str, int] = field(default_factory=dict)  # per check: chars measured
    retained_chars: dict[str, int] = field(default_factory=dict)
    observed_acceptance: bool = False


class OutcomeTracker:
    def __init__(
        self,
        *,
        schedule: Schedule,
        read_span: ReadSpan,
        write: Callable[[dict[str, Any]], None],
        on_stats: Callable[[], None] = lambda: None,
        on_settled: Callable[[Suggestion], None] = lambda suggestion: None,
        checks: tuple[tuple[str, float], ...] = CHECKS,
        grace_s: float = GRACE_S,
    ) -> None:
        if [label for label, _ in checks] != [label for label, _ in CHECKS]:
            raise ValueError(f"checks must be labelled {[label for label, _ in CHECKS]}")
        self._schedule = schedule
        self._read_span = read_span
        self._write = write
        self._on_stats = on_stats
        self._on_settled = on_settled  # each outcome, and each correction of one, at once
        self._checks = checks
        self._grace_s = min(grace_s, checks[0][1])
        self._ids = (f"{int(time.time() * 1000):x}-{n}" for n in itertools.count(1))
        self._by_id: dict[str, Suggestion] = {}
        self._units: Units = len
        self.counts = Counts()

    # -- what the server tells it ----------------------------------------------------------

    def served(self, served: Served) -> str:
        """Track a served answer; returns its id (the same one for the same answer again)."""
        for each in self._in(served.uri):
            if each.state == "shown" and each.matched == 0 and each.served == served:
                return each.id  # asked again where nothing changed: still the same suggestion
        for each in self._in(served.uri):
            if each.state == "shown":
                self._stop_showing(each, "dismissed")
        suggestion = Suggestion(next(self._ids), served, _now())
        self._by_id[suggestion.id] = suggestion
        self.counts.shown += 1
        self._on_stats()
        return suggestion.id

    def accepted(self, suggestion_id: str, candidate: int = 0) -> bool:
        """The client reports that it inserted the whole candidate (the item's command)."""
        suggestion = self._by_id.get(suggestion_id)
        if suggestion is None or not 0 <= candidate < len(suggestion.served.texts):
            return False
        self.counts.observed_acceptance = True
        suggestion.signal = "observed"
        if suggestion.outcome == "accepted":
            self._on_stats()
            return True
        if suggestion.outcome is not None:
            self.counts.outcomes[suggestion.outcome] -= 1  # the inference got it wrong
        # The whole candidate is in the document now, also where the change that put it there
        # was not recognised (VS Code may fix brackets or indentation on the way).
        text = suggestion.served.texts[candidate]
        if suggestion.region is None:
            suggestion.accepted_from = suggestion.matched  # what was typed by hand stays out
            start = suggestion.cursor
        else:
            start = suggestion.region[0]
        written = text[suggestion.accepted_from :]
        suggestion.region = (start, edits.advance(start, written, self._units))
        suggestion.alive = [candidate]
        suggestion.accepted_chars = len(text) - suggestion.accepted_from
        suggestion.matched = len(text)
        suggestion.outcome = None
        self._settle(suggestion, "accepted")
        return True

    def changed(
        self, uri: str, changes: list[tuple[types.Range | None, str]], units: Units
    ) -> None:
        """A ``didChange``: each change's range (None: the whole text) and its text."""
        for change_range, text in changes:
            for suggestion in self._in(uri):
                if change_range is None:
                    self._whole_text_replaced(suggestion)
                    continue
                if suggestion.state == "shown" and self._wrote_it(
                    suggestion, change_range, text, units
                ):
                    continue
                touched = suggestion.state == "shown" and edits.touches(
                    change_range, suggestion.cursor
                )
                if suggestion.state == "shown":
                    self._stop_showing(suggestion, "typed-over" if touched else "dismissed")
                self._move(suggestion, change_range, text, units)
                if touched:  # where its text would begin, should an acceptance report come
                    suggestion.cursor = change_range.start
        self._units = units  # the client's position units, for acceptance reports

    def closed(self, uri: str) -> None:
        for suggestion in self._in(uri):
            suggestion.closed = True
            if suggestion.state == "shown":
                self._stop_showing(suggestion, "dismissed")

    def flush(self, write: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Write every record now with what is known (the server is shutting down)."""
        for suggestion in list(self._by_id.values()):
            if suggestion.state == "shown":
                self._stop_showing(suggestion, "dismissed")
            _cancel(suggestion.timers)
            if self._by_id.pop(suggestion.id, None) is not None and suggestion.outcome is not None:
                (write or self._write)(suggestion.record())

    def summary(self) -> dict[str, Any]:
        """``evoselfcode/status``'s ``completions.outcomes``: this session's counts."""
        counts = self.counts
        measured = counts.accepted_chars
        settled = sum(counts.outcomes.values())
        taken = counts.outcomes["accepted"] + counts.outcomes["partial"]
        return {
            "shown": counts.shown,
            "accepted": counts.outcomes["accepted"],
            "partial": counts.outcomes["partial"],
            "dismissed": counts.outcomes["dismissed"],
            "typedOver": counts.outcomes["typed-over"],
            "reverted": counts.reverted,
            "acceptanceRate": round(taken / settled, 3) if settled else None,
            "retainedCharRate": {
                label: _ratio(counts.retained_chars.get(label, 0), measured.get(label, 0))
                for label, _ in self._checks
            },
            "signals": {
                "accepted": "observed" if counts.observed_acceptance else "inferred",
                "partial": "inferred",
                "dismissed": "inferred",
                "typedOver": "inferred",
                "retained": "measured",
            },
        }

    # -- inside ----------------------------------------------------------------------------

    def _in(self, uri: str) -> list[Suggestion]:
        return [s for s in self._by_id.values() if s.served.uri == uri and not s.closed]

    def _wrote_it(
        self, suggestion: Suggestion, change_range: types.Range, text: str, units: Units
    ) -> bool:
        """Advance ``suggestion`` when the change writes its next characters; else False."""
        at_cursor = edits.key(change_range.start) == edits.key(suggestion.cursor)
        replaces = edits.key(change_range.end) in (
            edits.key(change_range.start),
            *((edits.key(suggestion.end),) if suggestion.matched == 0 else ()),
        )
        texts = suggestion.served.texts
        rest = suggestion.matched
        fits = [i for i in suggestion.alive if text and texts[i][rest:].startswith(text)]
        if not (at_cursor and replaces and fits):
            return False
        whole = [i for i in fits if len(texts[i]) == suggestion.matched + len(text)]
        accepting = len(text) >= PARTIAL_MIN_CHARS or (whole and suggestion.matched == 0)
        if accepting:
            if suggestion.accepted_chars == 0:
                suggestion.accepted_from = suggestion.matched
                suggestion.region = (change_range.start, change_range.start)
            suggestion.accepted_chars += len(text)
        suggestion.alive = whole[:1] or fits
        suggestion.matched += len(text)
        suggestion.cursor = edits.advance(change_range.start, text, units)
        suggestion.end = suggestion.cursor
        if suggestion.region is not None:
            suggestion.region = (suggestion.region[0], suggestion.cursor)
        if whole:
            self._stop_showing(suggestion, None)
        return True

    def _stop_showing(self, suggestion: Suggestion, outcome: Outcome | None) -> None:
        """It is no longer shown: settle what was accepted of it, or ``outcome``."""
        if suggestion.accepted_chars > 0:
            full = suggestion.accepted_chars == len(suggestion.text)
            self._settle(suggestion, "accepted" if full else "partial")
        elif suggestion.matched > 0 or outcome is None:
            self._forget(suggestion)  # typed out by hand: it lives on as the next suggestion
        else:
            self._settle(suggestion, outcome)

    def _settle(self, suggestion: Suggestion, outcome: Outcome) -> None:
        suggestion.outcome = outcome
        self.counts.outcomes[outcome] += 1
        first_settling = suggestion.state == "shown"
        if outcome in ("accepted", "partial"):
            if suggestion.state != "retaining":
                _cancel(suggestion.timers)  # the grace of a mistaken "typed-over" or "dismissed"
                suggestion.timers = [
                    self._schedule(delay, lambda s=suggestion, label=label: self._check(s, label))
                    for label, delay in self._checks
                ]
            suggestion.state = "retaining"
        elif first_settling:
            suggestion.state = "settling"
            suggestion.timers = [self._schedule(self._grace_s, lambda: self._finish(suggestion))]
        self._on_settled(suggestion)
        self._on_stats()

    def _check(self, suggestion: Suggestion, label: str) -> None:
        if suggestion.id not in self._by_id:
            return
        now = None
        if not suggestion.closed and suggestion.region is not None:
            now = self._read_span(suggestion.served.uri, *suggestion.region)
        if now is not None:
            accepted = suggestion.text[
                suggestion.accepted_from : suggestion.accepted_from + suggestion.matched
            ]
            kept = min(edits.retained_chars(accepted, now), suggestion.accepted_chars)
            suggestion.retained[label] = kept
            self.counts.accepted_chars[label] = (
                self.counts.accepted_chars.get(label, 0) + suggestion.accepted_chars
            )
            self.counts.retained_chars[label] = self.counts.retained_chars.get(label, 0) + kept
            if edits.reverted(suggestion.accepted_chars, kept) and not suggestion.reverted:
                suggestion.reverted = True
                self.counts.reverted += 1
            elif suggestion.reverted is None:
                suggestion.reverted = False
        if label == self._checks[-1][0]:
            self._finish(suggestion)
        self._on_stats()

    def _finish(self, suggestion: Suggestion) -> None:
        if self._by_id.pop(suggestion.id, None) is not None and suggestion.outcome is not None:
            self._write(suggestion.record())

    def _forget(self, suggestion: Suggestion) -> None:
        _cancel(suggestion.timers)
        self._by_id.pop(suggestion.id, None)

    def _move(
        self, suggestion: Suggestion, change_range: types.Range, text: str, units: Units
    ) -> None:
        suggestion.cursor = edits.shift(suggestion.cursor, change_range, text, units, "start")
        suggestion.end = edits.shift(suggestion.end, change_range, text, units, "end")
        if suggestion.region is not None:
            start, end = suggestion.region
            suggestion.region = (
                edits.shift(start, change_range, text, units, "start"),
                edits.shift(end, change_range, text, units, "end"),
            )

    def _whole_text_replaced(self, suggestion: Suggestion) -> None:
        """A full-text change: positions cannot be followed any more."""
        if suggestion.state == "shown":
            self._stop_showing(suggestion, "dismissed")
        suggestion.closed = True


def checks_from_environment() -> tuple[tuple[str, float], ...]:
    """``CHECKS``, or the delays in ``$EVOSELFCODE_OUTCOME_CHECKS_S`` ("30,300"): for tests,
    which cannot wait five minutes."""
    raw = os.environ.get(CHECKS_ENV, "")
    if not raw:
        return CHECKS
    delays = [float(part) for part in raw.split(",")]
    if len(delays) != len(CHECKS) or not all(0 < d < 86400 for d in delays):
        raise ValueError(f"{CHECKS_ENV} must hold {len(CHECKS)} delays in seconds, got {raw!r}")
    return tuple((label, delay) for (label, _), delay in zip(CHECKS, delays, strict=True))


def _cancel(timers: list[Any]) -> None:
    for timer in timers:
        if timer is not None:
            timer.cancel()
    timers.clear()


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
