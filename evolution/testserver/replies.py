"""What a route hands back to the HTTP handler to write: JSON, raw bytes, a stream, or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from evolution.testserver.responses import error_body


@dataclass
class JsonReply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RawReply:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class StreamReply:
    """Server-sent events, one ``data:`` line per object, then ``data: [DONE]``."""

    events: Iterator[dict[str, Any]]
    delay: float = 0.0  # seconds between events


@dataclass
class DropReply:
    """Close the connection without answering."""


Reply = JsonReply | RawReply | StreamReply | DropReply


class RequestRejected(Exception):
    """Raised inside a route to answer with an OpenAI-shaped error."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str = "invalid_request_error",
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reply = JsonReply(status, error_body(message, error_type, code))
