"""Positions through document changes, and how much of a text is still in a span (pure).

Positions are LSP positions in the client's units (UTF-16 by default), as ``didChange`` sends
them; ``units`` counts a string in those units. Each change of a ``didChange`` applies to the
document left by the one before it, so moving a position change by change needs no text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Literal

from lsprotocol import types

Units = Callable[[str], int]
Side = Literal["start", "end"]
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
REVERTED_BELOW = 0.1  # less than a tenth of the accepted characters left: reverted


def key(position: types.Position) -> tuple[int, int]:
    return position.line, position.character


def advance(start: types.Position, text: str, units: Units) -> types.Position:
    """Where ``text`` ends when written at ``start``."""
    lines = _LINE_BREAK.split(text)
    if len(lines) == 1:
        return types.Position(line=start.line, character=start.character + units(text))
    return types.Position(line=start.line + len(lines) - 1, character=units(lines[-1]))


def shift(
    position: types.Position,
    change_range: types.Range,
    text: str,
    units: Units,
    side: Side,
) -> types.Position:
    """``position`` after ``change_range`` was replaced by ``text``.

    ``side`` says which end of a tracked span the position is: text written exactly at a
    span's start or end stays outside the span, text replacing part of it joins it.
    """
    a, b = change_range.start, change_range.end
    new_end = advance(a, text, units)
    if key(position) < key(a):
        return position
    if key(position) > key(b):
        if position.line == b.line:
            return types.Position(
                line=new_end.line, character=new_end.character + position.character - b.character
            )
        line = position.line + new_end.line - b.line
        return types.Position(line=line, character=position.character)
    if key(a) == key(b):  # an insertion right at the position
        return new_end if side == "start" else position
    return a if side == "start" else new_end


def touches(change_range: types.Range, position: types.Position) -> bool:
    """The change starts at, ends at or covers ``position``."""
    return key(change_range.start) <= key(position) <= key(change_range.end)


def retained_chars(accepted: str, now: str) -> int:
    """Characters of ``accepted`` still in ``now``, in order (difflib's matching blocks)."""
    if not accepted or not now:
        return 0
    matcher = difflib.SequenceMatcher(None, accepted, now[: 4 * len(accepted)], autojunk=False)
    return min(len(accepted), sum(block.size for block in matcher.get_matching_blocks()))


def reverted(accepted_chars: int, retained: int) -> bool:
    return accepted_chars > 0 and retained < REVERTED_BELOW * accepted_chars
