"""Reading ``workspace/executeCommand`` arguments and answering with errors the user can act on.

Commands take one JSON object as their only argument. A malformed one is ``InvalidParams``
naming what was expected; a valid request that cannot be done (no function there, a run
already going) is LSP's ``RequestFailed`` with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

REQUEST_FAILED = -32803  # LSP's RequestFailed: the request was valid but could not be done


def request_failed(message: str) -> JsonRpcException:
    return JsonRpcException(message=message, code=REQUEST_FAILED)


def invalid_params(message: str) -> JsonRpcInvalidParams:
    return JsonRpcInvalidParams(message)


def command_argument(args: Sequence[Any], usage: str) -> Mapping[str, Any]:
    """The one object argument of a command (``{}`` when none was sent)."""
    if not args or args[0] is None:
        return {}
    if len(args) > 1 or not isinstance(args[0], Mapping):
        raise invalid_params(f"expected one object argument: {usage}")
    return args[0]


def position(raw: Any) -> types.Position:
    """An LSP position from JSON; ValueError says what is wrong."""
    try:
        line, character = raw["line"], raw["character"]
    except (KeyError, TypeError):
        raise ValueError(f"a position is {{line, character}}, got {raw!r:.80}") from None
    if not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (line, character)
    ):
        raise ValueError(f"line and character must be non-negative integers, got {raw!r:.80}")
    return types.Position(line=line, character=character)


def span(args: Mapping[str, Any]) -> tuple[types.Position, types.Position]:
    """``range`` {start, end} or ``position`` of a command's argument (start == end then)."""
    if "range" in args:
        raw = args["range"]
        if not isinstance(raw, Mapping):
            raise ValueError(f"a range is {{start, end}}, got {raw!r:.80}")
        start, end = position(raw.get("start")), position(raw.get("end"))
        if (end.line, end.character) < (start.line, start.character):
            raise ValueError("the range ends before it starts")
        return start, end
    if "position" in args:
        at = position(args["position"])
        return at, at
    raise ValueError("a range {start, end} or a position {line, character} is needed")


def optional_string(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_params(f"{name} must be a string")
    return value


def optional_bool(args: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = args.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid_params(f"{name} must be true or false")
    return value
