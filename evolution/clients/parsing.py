"""OpenAI response JSON → ``Choice`` / ``StreamDelta``, with a clear error for any other shape."""

from __future__ import annotations

from typing import Any

from evolution.clients.choice import Choice, StreamDelta
from evolution.clients.errors import MalformedResponse


def _choices_list(url: str, data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        keys = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise MalformedResponse(url, f"no 'choices' list in the answer (got {keys})")
    choices = data["choices"]
    if not all(isinstance(c, dict) for c in choices):
        raise MalformedResponse(url, "the answer's choices are not JSON objects")
    return choices


def _index(raw: dict[str, Any], position: int) -> int:
    index = raw.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


def chat_choices(url: str, data: Any) -> list[Choice]:
    """Choices of a ``chat.completion``, with ``logprobs.content`` when present."""
    out = []
    for position, raw in enumerate(_choices_list(url, data)):
        message = raw.get("message")
        if not isinstance(message, dict):
            raise MalformedResponse(url, f"choice {position} has no message")
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise MalformedResponse(url, f"choice {position}'s content is not text")
        fields: dict[str, Any] = {}
        logprobs = raw.get("logprobs")
        entries = logprobs.get("content") if isinstance(logprobs, dict) else None
        if isinstance(entries, list) and all(isinstance(e, dict) for e in entries):
            try:
                fields = {
                    "tokens": tuple(str(e["token"]) for e in entries),
                    "token_logprobs": tuple(float(e["logprob"]) for e in entries),
                    "top_logprobs": tuple(
                        {str(t["token"]): float(t["logprob"]) for t in e.get("top_logprobs") or []}
                        for e in entries
                    ),
                }
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedResponse(
                    url, f"choice {position}'s logprobs are malformed: {exc!r}"
                ) from exc
        out.append(Choice(_index(raw, position), content or "", raw.get("finish_reason"), **fields))
    return out


def completion_choices(url: str, data: Any) -> list[Choice]:
    """Choices of a ``text_completion``, with legacy ``logprobs`` when present."""
    out = []
    for position, raw in enumerate(_choices_list(url, data)):
        text = raw.get("text")
        if not isinstance(text, str):
            raise MalformedResponse(url, f"choice {position} has no text")
        out.append(
            Choice(_index(raw, position), text, raw.get("finish_reason"), **_legacy(url, raw))
        )
    return out


def _legacy(url: str, raw: dict[str, Any]) -> dict[str, Any]:
    logprobs = raw.get("logprobs")
    if not isinstance(logprobs, dict) or not isinstance(logprobs.get("tokens"), list):
        return {}
    try:
        tokens = tuple(str(t) for t in logprobs["tokens"])
        values = tuple(
            None if v is None else float(v) for v in logprobs.get("token_logprobs") or []
        )
        tops = tuple(
            {str(k): float(v) for k, v in (top or {}).items()}
            for top in logprobs.get("top_logprobs") or [None] * len(tokens)
        )
        offsets = logprobs.get("text_offset")
        offsets = tuple(int(o) for o in offsets) if isinstance(offsets, list) else None
    except (TypeError, ValueError, AttributeError) as exc:
        raise MalformedResponse(url, f"logprobs are malformed: {exc!r}") from exc
    if len(values) != len(tokens) or len(tops) != len(tokens):
        raise MalformedResponse(url, "logprobs lists have different lengths")
    return {
        "tokens": tokens,
        "token_logprobs": values,
        "top_logprobs": tops,
        "text_offsets": offsets,
    }


def stream_deltas(url: str, event: Any, *, chat: bool) -> list[StreamDelta]:
    """The text pieces in one streamed chunk (a usage-only chunk has none)."""
    out = []
    for position, raw in enumerate(_choices_list(url, event)):
        if chat:
            delta = raw.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else None
        else:
            text = raw.get("text")
        if text is not None and not isinstance(text, str):
            raise MalformedResponse(url, "a streamed piece is not text")
        finish = raw.get("finish_reason")
        if text or finish:  # role-only and empty chunks carry nothing
            out.append(StreamDelta(_index(raw, position), text or "", finish))
    return out
