"""Token healing at the cursor: the prompt stops one token short, and the answer must begin
with the characters that token held.

A byte-level BPE splits ``"\\n        self"`` as ``"\\n"``, ``"       "`` (seven spaces),
``" self"``: the last space goes with the word. When the cursor sits after the indentation,
the prefix ends in a token (eight spaces) that training text never has before code, and a
model, small ones most, continues badly (``"e = …"``). Mid-word the same happens:
``"sel"`` is a rare token where ``"self"`` is the common one. So the prefix loses its last
token (``split_heal``), and decoding may only pick tokens consistent with the text removed
(``HealIndex.allowed``) until it has been written again; the caller strips it from the answer.
Guidance and llama.cpp call this token healing.

Healing applies where the prefix ends inside a line: after a newline the boundary is a
natural one. At an indentation-only line, the answer may not add more whitespace after the
indentation the person already has (they are about to write code there).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# The prefix's tail that is re-encoded to find its last token: longer than any token.
_TAIL_CHARS = 64


def split_heal(
    prefix: str, encode: Callable[[str], list[int]], decode: Callable[[int], str]
) -> tuple[str, str]:
    """``(prefix without its last token, that token's text)``, or ``(prefix, "")`` where the
    prefix ends at a line start (nothing to heal)."""
    if not prefix or prefix.endswith("\n"):
        return prefix, ""
    tail = prefix[-_TAIL_CHARS:]
    ids = encode(tail)
    if not ids:
        return prefix, ""
    last = decode(ids[-1])
    if not last or not tail.endswith(last) or "\n" in last:
        return prefix, ""  # a byte piece of a longer character, or a line break: leave it
    return prefix[: -len(last)], last


@dataclass(frozen=True)
class HealIndex:
    """Every token's text, sorted, to find the tokens that fit a piece of text quickly."""

    texts: tuple[str, ...]  # sorted
    ids: tuple[tuple[int, ...], ...]  # ids per text (several ids may decode the same)

    @classmethod
    def build(cls, texts_by_id: Sequence[str], excluded: frozenset[int] = frozenset()) -> HealIndex:
        groups: dict[str, list[int]] = {}
        for token_id, text in enumerate(texts_by_id):
            if text and token_id not in excluded and "\ufffd" not in text:
                groups.setdefault(text, []).append(token_id)
        ordered = sorted(groups)
        return cls(tuple(ordered), tuple(tuple(groups[t]) for t in ordered))

    def allowed(self, rest: str) -> list[int]:
        """Tokens that may come next while ``rest`` is still to be written: those whose text
        is a start of ``rest``, and those that start with all of it. Blanks (``rest`` is
        indentation) end only inside a token that goes on with a non-blank character, as
        they do in the text a model learned from (``"       "``, ``" self"``)."""
        blank = not rest.strip()
        found: list[int] = []
        for end in range(1, len(rest) + (0 if blank else 1)):
            found += self._exactly(rest[:end])
        start = bisect.bisect_left(self.texts, rest)
        for index in range(start, len(self.texts)):
            text = self.texts[index]
            if not text.startswith(rest):
                break
            if len(text) > len(rest) and not (blank and text[len(rest)].isspace()):
                found += self.ids[index]
        return found

    def _exactly(self, text: str) -> tuple[int, ...]:
        index = bisect.bisect_left(self.texts, text)
        if index < len(self.texts) and self.texts[index] == text:
            return self.ids[index]
        return ()


def remaining(rest: str, token_text: str) -> str:
    """What is still to be written after ``token_text`` was picked while ``rest`` was due."""
    return rest[len(token_text) :] if rest.startswith(token_text) else ""
