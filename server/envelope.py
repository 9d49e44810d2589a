"""The JSON-RPC 2.0 envelope of a parsed message: what it is, or why it is rejected.

pygls only checks a message by structuring it into its LSP type; a body that is no request,
notification or response at all (a list, no method, an id of the wrong type) failed there
with a traceback and was never answered. ``read_envelope`` looks at the envelope alone
(``jsonrpc``, ``id``, ``method``, ``result``/``error``) so the protocol can answer such a
message as JSON-RPC 2.0 says (section 5): ``InvalidRequest``, with the message's id where it
is usable and null where it is not. Responses are never answered, not even bad ones (two
peers answering each other's bad responses would never stop).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602

MsgId = int | str
# What json.loads raises for a body that is not JSON, not UTF-8, or nested too deep to parse.
UNPARSABLE = (ValueError, RecursionError)


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float) and not value.is_integer():
        return "a fraction"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


class Kind(enum.Enum):
    REQUEST = "request"
    NOTIFICATION = "notification"
    RESPONSE = "response"


@dataclass(frozen=True)
class Envelope:
    kind: Kind
    msg_id: MsgId | None  # None for notifications
    method: str | None  # None for responses


class Rejected(Exception):
    """A message the server does not handle: why, and what (if anything) to answer.

    ``msg_id`` is the id to answer with (None: the id null); ``answered`` is false for
    notifications and responses, which get no answer.
    """

    def __init__(self, code: int, reason: str, msg_id: MsgId | None = None, answered: bool = True):
        super().__init__(reason)
        self.code, self.reason, self.msg_id, self.answered = code, reason, msg_id, answered


def usable_id(value: Any) -> bool:
    """LSP ids are integers or strings (JSON-RPC allows null and fractions; LSP does not)."""
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def read_envelope(message: Any) -> Envelope:
    """The message's kind, id and method; ``Rejected`` when it is not valid JSON-RPC 2.0."""
    if not isinstance(message, dict):
        raise Rejected(INVALID_REQUEST, f"a message is a JSON object, not {json_type(message)}")
    msg_id = message.get("id") if usable_id(message.get("id")) else None
    if "method" not in message and ("result" in message or "error" in message):
        if msg_id is None:
            raise Rejected(INVALID_REQUEST, "a response without a usable id", answered=False)
        if message.get("jsonrpc") != "2.0":
            raise Rejected(INVALID_REQUEST, '"jsonrpc" must be "2.0"', msg_id, answered=False)
        return Envelope(Kind.RESPONSE, msg_id, None)
    if message.get("jsonrpc") != "2.0":
        raise Rejected(INVALID_REQUEST, '"jsonrpc" must be "2.0"', msg_id)
    if "id" in message and msg_id is None:
        got = json_type(message["id"])
        raise Rejected(INVALID_REQUEST, f"an id is an integer or a string, not {got}")
    method = message.get("method")
    if not isinstance(method, str):
        got = "missing" if "method" not in message else json_type(method)
        raise Rejected(INVALID_REQUEST, f"the method must be a string, got {got}", msg_id)
    kind = Kind.NOTIFICATION if msg_id is None else Kind.REQUEST
    return Envelope(kind, msg_id, method)
