"""Turning generated tokens into text pieces: incremental decoding and stop strings.

Both work one step at a time so that streaming, stop strings split across tokens and the
caller's ``stop_check`` all see the same text without re-decoding the whole output per token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


class IncrementalDecoder:
    """Decode token ids one at a time into text deltas.

    Byte-level BPE tokens can end inside a multi-byte character; such a token decodes to
    U+FFFD until the rest arrives, so text is released only when it no longer ends in one.
    Each step decodes a few tokens, not the whole output (the method of vLLM's detokenizer).
    """

    def __init__(self, decode: Callable[[Sequence[int]], str]) -> None:
        self._decode = decode
        self._ids: list[int] = []
        self._prefix_offset = 0  # start of the window decoded for context
        self._read_offset = 0  # tokens before this are already released as text

    def push(self, token_id: int) -> str:
        """Add one token; return the text it completes (often the empty string mid-character)."""
        self._ids.append(token_id)
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        new_text = self._decode(self._ids[self._prefix_offset :])
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            self._prefix_offset = self._read_offset
            self._read_offset = len(self._ids)
            return new_text[len(prefix_text) :]
        return ""

    def flush(self) -> str:
        """Text still held back at the end (an incomplete character decodes as U+FFFD)."""
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        new_text = self._decode(self._ids[self._prefix_offset :])
        self._prefix_offset = self._read_offset = len(self._ids)
        return new_text[len(prefix_text) :]


class StopStrings:
    """Accumulate text, end it at the first stop string, and release only safe text.

    ``feed`` returns the text that can be shown now: everything except a tail that might
    still grow into a stop string. The stop string itself is never part of ``text``.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._longest = max((len(s) for s in self._stops), default=0)
        self.text = ""
        self.stopped = False
        self._released = 0

    def feed(self, delta: str) -> str:
        if self.stopped or not delta:
            return ""
        search_from = max(0, len(self.text) - self._longest + 1)
        self.text += delta
        hits = [i for s in self._stops if (i := self.text.find(s, search_from)) >= 0]
        if hits:
            self.text = self.text[: min(hits)]
            self.stopped = True
            return self._release(len(self.text))
        return self._release(len(self.text) - self._pending_prefix())

    def finish(self) -> str:
        """Release whatever was held back (the output ended without completing a stop string)."""
        return self._release(len(self.text))

    def _pending_prefix(self) -> int:
        """Length of the longest tail of ``text`` that is a proper prefix of a stop string."""
        for k in range(min(self._longest - 1, len(self.text)), 0, -1):
            tail = self.text[-k:]
            if any(s.startswith(tail) for s in self._stops):
                return k
        return 0

    def _release(self, upto: int) -> str:
        upto = max(upto, self._released)
        piece = self.text[self._released : upto]
        self._released = upto
        return piece
