"""API keys held so that repr, str, logging and JSON never show them."""

from __future__ import annotations

import hmac
import os
from typing import Any

# The environment variables the editor's settings document for the two remote roles.
GENERATOR_API_KEY_ENV = "EVOSELFCODE_GENERATOR_API_KEY"
VERIFIER_API_KEY_ENV = "EVOSELFCODE_VERIFIER_API_KEY"


class Secret:
    """A string that shows as ``***`` everywhere; ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds a string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(Secret)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> Secret:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled: keys are never written anywhere")


def secret_from_env(name: str | None) -> Secret | None:
    """The key in environment variable ``name``, or None when unset or empty."""
    value = os.environ.get(name) if name else None
    return Secret(value) if value else None
