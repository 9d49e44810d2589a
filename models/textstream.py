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
    After ``end_at_line_end`` (the time box) the next line end ends the text too, and
    ``boxed`` says that this, not a stop string, ended it.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._longest = max((len(s) for s in self._stops), default=0)
        self.text = ""
        self.stopped = False
        self.boxed = False
        self._released = 0
        self._line_from: int | None = None  # where to look for the line end, once asked to

    def feed(self, delta: str) -> str:
        if self.stopped or not delta:
            return ""
        search_from = max(0, len(self.text) - self._longest + 1)
        new_from = len(self.text)
        self.text += delta
        hits = [i for s in self._stops if (i := self.text.find(s, search_from)) >= 0]
        line_end = self._line_end(new_from)
        if line_end is not None and (not hits or line_end < min(hits)):
            self.text = self.text[:line_end]
            self.stopped = self.boxed = True
            return self._release(len(self.text))
        if hits:
            self.text = self.text[: min(hits)]
            self.stopped = True
            return self._release(len(self.text))
        return self._release(len(self.text) - self._pending_prefix())

    def end_at_line_end(self) -> str:
        """End the text at its next line end, line break included (``time_box_s``).

        A text that ends at a line end already (non-blank before its last line break, blank
        after it: the next line's indentation) ends now as it is; a blank text ends after its
        first line with text. Returns text released by ending now (a held-back tail).
        """
        if self.stopped or self._line_from is not None:
            return ""
        last_break = self.text.rfind("\n")
        if (
            last_break >= 0
            and self.text[:last_break].strip()
            and not self.text[last_break:].strip()
        ):
            self.stopped = self.boxed = True
            return self.finish()
        self._line_from = len(self.text)
        return ""

    def finish(self) -> str:
        """Release whatever was held back (the output ended without completing a stop string)."""
        return self._release(len(self.text))

    def _line_end(self, new_from: int) -> int | None:
        """Where the text ends after a line break at or after ``new_from`` that closes a
        line with text, once ``end_at_line_end`` was called; None before or without one."""
        if self._line_from is None:
            return None
        start = max(new_from, self._line_from)
        if not self.text[:start].strip():  # blank so far: the line end must follow text
            rest = self.text[start:].lstrip()
            if not rest:
                return None
            start = len(self.text) - len(rest)
        index = self.text.find("\n", start)
        return None if index < 0 else index + 1

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
