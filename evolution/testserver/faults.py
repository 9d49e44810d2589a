"""Fault injection: what goes wrong, for which requests, and how often.

A fault fires on the next ``count`` matching requests (default 1), or, with ``fraction``, on
that share of them drawn from the server's seeded random generator (then ``count``, if given,
caps how many times it fires). ``path`` limits it to one route. For each request the active
faults are walked in the order they were added: ``slow`` adds its delay, the behaviour
faults (``ignore_stop``, ``ignore_n``, ``ignore_echo``, ``no_logprobs``) change the answer,
and the first terminal fault (``http_error``, ``malformed``, ``drop``) replaces the answer
and ends the walk.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from evolution.testserver.errors import FaultSpecError

FAULT_KINDS = {
    "http_error": "answer with HTTP `status` (e.g. 500, 503, 401, 429 with `retry_after`)",
    "slow": "wait `delay` seconds before answering (past the client's timeout, say)",
    "malformed": "answer 200 with a body that is not the expected JSON (`body` overrides it)",
    "drop": "close the connection without sending any response",
    "ignore_stop": "answer as if no stop sequences had been given",
    "ignore_n": "answer with one choice whatever n asked for",
    "ignore_echo": "answer completions as if echo had not been asked for",
    "no_logprobs": "answer as a server without logprobs support would (logprobs: null)",
}
TERMINAL_KINDS = frozenset({"http_error", "malformed", "drop"})
DEFAULT_MALFORMED_BODY = '{"id": "cmpl-broken", "choices": [{"text": "trunc'


@dataclass
class Fault:
    """One injected fault; see the module docstring for when it fires."""

    kind: str
    count: int | None = None
    fraction: float | None = None
    path: str | None = None
    status: int = 500
    retry_after: float | str | None = None  # seconds, or an HTTP-date sent verbatim
    delay: float = 0.0
    body: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultSpecError(
                f"unknown fault kind {self.kind!r}; known kinds: {', '.join(FAULT_KINDS)}"
            )
        if self.count is not None and (
            isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1
        ):
            raise FaultSpecError(f"fault count must be a positive integer, got {self.count!r}")
        if self.fraction is not None and (
            not isinstance(self.fraction, (int, float)) or not 0.0 <= self.fraction <= 1.0
        ):
            raise FaultSpecError(f"fault fraction must be between 0 and 1, got {self.fraction!r}")
        if self.count is None and self.fraction is None:
            self.count = 1
        if not isinstance(self.status, int) or not 100 <= self.status <= 599:
            raise FaultSpecError(f"fault status must be an HTTP status code, got {self.status!r}")
        if not isinstance(self.delay, (int, float)) or self.delay < 0:
            raise FaultSpecError(f"fault delay must be seconds ≥ 0, got {self.delay!r}")
        if self.kind == "slow" and self.delay <= 0:
            raise FaultSpecError("a slow fault needs delay > 0 seconds")

    @classmethod
    def http_error(
        cls,
        status: int,
        *,
        retry_after: float | str | None = None,
        body: str | None = None,
        count: int | None = None,
        fraction: float | None = None,
        path: str | None = None,
    ) -> Fault:
        """Answer with HTTP ``status`` (a ``Retry-After`` header when ``retry_after`` is set)."""
        return cls(
            "http_error",
            status=status,
            retry_after=retry_after,
            body=body,
            count=count,
            fraction=fraction,
            path=path,
        )

    @classmethod
    def slow(
        cls,
        delay: float,
        *,
        count: int | None = None,
        fraction: float | None = None,
        path: str | None = None,
    ) -> Fault:
        """Wait ``delay`` seconds before answering."""
        return cls("slow", delay=delay, count=count, fraction=fraction, path=path)

    @classmethod
    def of(
        cls,
        kind: str,
        *,
        count: int | None = None,
        fraction: float | None = None,
        path: str | None = None,
    ) -> Fault:
        """A fault without parameters: ``malformed``, ``drop``, ``ignore_stop``, ``ignore_n``,
        ``ignore_echo``, ``no_logprobs``."""
        return cls(kind, count=count, fraction=fraction, path=path)

    @classmethod
    def from_dict(cls, data: Any) -> Fault:
        if not isinstance(data, Mapping):
            raise FaultSpecError(f"a fault must be a mapping, got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultSpecError(
                f"unknown fault field {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        if "kind" not in data:
            raise FaultSpecError(f"a fault needs a kind, one of: {', '.join(FAULT_KINDS)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Effects:
    """What the active faults do to one request."""

    delay: float = 0.0
    terminal: Fault | None = None
    ignore_stop: bool = False
    ignore_n: bool = False
    ignore_echo: bool = False
    no_logprobs: bool = False


@dataclass
class _Active:
    fault: Fault
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.fault.count is not None and self.fired >= self.fault.count


@dataclass
class FaultPlan:
    """The active faults and the seeded generator that decides fractional ones.

    Not thread-safe by itself: the server calls it under its state lock.
    """

    seed: int = 0
    _active: list[_Active] = field(default_factory=list)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, fault: Fault) -> None:
        self._active.append(_Active(fault))

    def clear(self) -> None:
        self._active.clear()
        self._rng = random.Random(self.seed)

    def draw(self, path: str) -> Effects:
        """Decide the faults of one request to ``path`` and use them up."""
        effects = Effects()
        for active in self._active:
            fault = active.fault
            if fault.path is not None and fault.path != path:
                continue
            if fault.fraction is not None and self._rng.random() >= fault.fraction:
                continue
            active.fired += 1
            if fault.kind == "slow":
                effects.delay += fault.delay
            elif fault.kind in TERMINAL_KINDS:
                effects.terminal = fault
                break
            else:
                setattr(effects, fault.kind, True)
        self._active = [a for a in self._active if not a.exhausted]
        return effects

    def snapshot(self) -> list[dict[str, Any]]:
        """The active faults with how often each has fired."""
        return [{**a.fault.to_dict(), "fired": a.fired} for a in self._active]
