"""What the clients return: ``Choice`` (one generated text) and ``StreamDelta`` (a piece of one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Choice:
    """One generated text; the token fields are set when the server returned logprobs.

    ``tokens``, ``token_logprobs``, ``top_logprobs`` and ``text_offsets`` are parallel: for an
    echoed prompt the first token's logprob is None (nothing precedes it) and its candidates
    are empty.
    """

    index: int
    text: str
    finish_reason: str | None = None
    tokens: tuple[str, ...] | None = None
    token_logprobs: tuple[float | None, ...] | None = None
    top_logprobs: tuple[dict[str, float], ...] | None = None
    text_offsets: tuple[int, ...] | None = None

    @property
    def has_logprobs(self) -> bool:
        return self.tokens is not None and self.token_logprobs is not None


@dataclass(frozen=True)
class StreamDelta:
    """A piece of choice ``index``'s text as it streams; the last one has ``finish_reason``."""

    index: int
    text: str
    finish_reason: str | None = None


def cut_at_stop(choice: Choice, stops: Sequence[str], start: int = 0) -> Choice:
    """``choice`` cut before the first stop sequence found at or after ``start``.

    For servers that ignore ``stop``. Tokens that reach past the cut are dropped with their
    logprobs. Unchanged when no stop sequence occurs.
    """
    found = [i for i in (choice.text.find(s, start) for s in stops if s) if i >= 0]
    if not found:
        return choice
    cut = min(found)
    trimmed = replace(choice, text=choice.text[:cut], finish_reason="stop")
    if choice.tokens is None:
        return trimmed
    offsets = choice.text_offsets or token_offsets(choice.tokens)
    keep = sum(1 for off, tok in zip(offsets, choice.tokens, strict=True) if off + len(tok) <= cut)
    return replace(
        trimmed,
        tokens=choice.tokens[:keep],
        token_logprobs=choice.token_logprobs[:keep] if choice.token_logprobs else None,
        top_logprobs=choice.top_logprobs[:keep] if choice.top_logprobs else None,
        text_offsets=offsets[:keep],
    )


def token_offsets(tokens: Sequence[str]) -> tuple[int, ...]:
    """Where each token starts in the concatenated text."""
    out, position = [], 0
    for token in tokens:
        out.append(position)
        position += len(token)
    return tuple(out)
