"""How often the stand-in generator errs, and how well the stand-in verifier judges.

The rates are per reply and independent of each other except where stated. Defaults describe
a strong but imperfect generator on small tasks (one reply in four wrong or broken), and a
judge that leans the right way but is often unsure. ``FaultRates.parse("wrong_code=0.3,
prose=0")`` changes some of them (the bench's ``--fault-rates``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


class FaultRatesError(ValueError):
    """A rate that is unknown, not a number, or out of range."""


@dataclass(frozen=True)
class FaultRates:
    """Rates of each kind of fault (see the module docstring)."""

    # The code: these two are exclusive; the rest of the replies hold the reference solution.
    wrong_code: float = 0.2  # parses and runs, but one step is an off-by-one, a missed edge
    # case or the wrong operation (whichever the task's tests can tell apart)
    unparsable: float = 0.05  # a syntax error (a lost colon, bracket or indentation)
    # The tests written beside the code: exclusive; the rest assert the reference outputs.
    wrong_tests: float = 0.1  # one assert expects a wrong value
    no_tests: float = 0.05  # no tests at all
    # Of the wrong code whose tests would otherwise be right: tests written for the
    # misunderstanding (they assert what the wrong code returns, so they pass).
    tests_follow_bug: float = 0.5
    prose: float = 0.3  # prose around the code blocks, which are then not labelled
    # The verifier: P(yes) is drawn around these means with this spread (normal, clipped).
    verifier_yes_if_correct: float = 0.8
    verifier_yes_if_wrong: float = 0.3
    verifier_noise: float = 0.2

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FaultRatesError(f"fault rate {name} must be a number, got {value!r}")
            if not 0.0 <= value <= 1.0:
                raise FaultRatesError(f"fault rate {name} must be between 0 and 1, got {value}")
        for first, second in (("wrong_code", "unparsable"), ("wrong_tests", "no_tests")):
            if getattr(self, first) + getattr(self, second) > 1.0:
                raise FaultRatesError(f"{first} + {second} must not exceed 1")

    @classmethod
    def parse(cls, text: str, base: FaultRates | None = None) -> FaultRates:
        """``base`` (default: the defaults) with the ``name=value`` pairs of ``text`` applied."""
        known = {f.name for f in fields(cls)}
        changes: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise FaultRatesError(
                    f"fault rate {item!r}: expected name=value with a name among "
                    f"{', '.join(sorted(known))}"
                )
            try:
                changes[name] = float(value)
            except ValueError as exc:
                raise FaultRatesError(f"fault rate {name}: {value!r} is not a number") from exc
        return replace(base or cls(), **changes)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)
