"""Finding a function by indentation alone, for code tree-sitter cannot parse (half-typed).

A block is the ``def`` line and every following line indented deeper (blank lines and closing
brackets of a multi-line signature included); the class of a method is the nearest ``class``
line above at a shallower indentation.
"""

from __future__ import annotations

import re

from evolution.evolve.context import leading_space

DEF_LINE = re.compile(r"^[ \t]*(async[ \t]+)?def[ \t]+([A-Za-z_]\w*)")


def def_above(lines: list[str], line: int) -> int | None:
    """The nearest ``def`` line at or above ``line`` whose indented block holds ``line``."""
    for number in range(line, len(lines)):  # on a decorator: the def below it
        if not lines[number].lstrip().startswith("@"):
            if number > line and DEF_LINE.match(lines[number]):
                return number
            break
    innermost = float("inf")
    for number in range(line, -1, -1):
        text = lines[number]
        if not text.strip():
            continue
        width = len(leading_space(text).expandtabs())
        if DEF_LINE.match(text) and (number == line or width < innermost):
            return number
        innermost = min(innermost, width)
    return None


def block_end(lines: list[str], def_line: int) -> int:
    """The last line of the block that starts at ``def_line``."""
    width = len(leading_space(lines[def_line]).expandtabs())
    last = def_line
    for number in range(def_line + 1, len(lines)):
        text = lines[number]
        if not text.strip():
            continue
        inside = len(leading_space(text).expandtabs()) > width
        if not inside and not text.lstrip().startswith((")", "]", "}")):
            break
        last = number
    return last


def class_above(lines: list[str], def_line: int) -> str | None:
    """The class the ``def`` at ``def_line`` belongs to, if its enclosing line is a class."""
    width = len(leading_space(lines[def_line]).expandtabs())
    for number in range(def_line - 1, -1, -1):
        text = lines[number]
        if text.strip() and len(leading_space(text).expandtabs()) < width:
            match = re.match(r"[ \t]*class[ \t]+([A-Za-z_]\w*)", text)
            return match.group(1) if match else None
    return None
