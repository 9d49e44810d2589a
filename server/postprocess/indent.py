"""Indentation: measure it, detect the document's style, and rewrite completions to match.

A model that saw tab-indented context still sometimes answers with spaces (and the other way
round); inserted as is, the suggestion mixes both and Python refuses the file.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from lsprotocol import types


@dataclass(frozen=True)
class IndentStyle:
    use_tabs: bool
    tab_size: int  # columns of one tab; also the unit of one level when indenting with spaces


def leading_whitespace(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(line: str, tab_size: int = 4) -> int:
    """Columns of leading whitespace, tabs expanded to the next multiple of ``tab_size``."""
    width = 0
    for char in leading_whitespace(line):
        width = (width // tab_size + 1) * tab_size if char == "\t" else width + 1
    return width


def is_blank(line: str) -> bool:
    return not line.strip()


def detect_indent(text: str, formatting: types.FormattingOptions | None = None) -> IndentStyle:
    """The editor's formatting options when the client sent them, else what ``text`` uses."""
    if formatting is not None:
        return IndentStyle(use_tabs=not formatting.insert_spaces, tab_size=formatting.tab_size)
    tab_led = space_led = 0
    steps: collections.Counter[int] = collections.Counter()
    previous = 0
    for line in text.splitlines():
        if is_blank(line):
            continue
        if line.startswith("\t"):
            tab_led += 1
            continue
        width = len(leading_whitespace(line))
        space_led += width > 0
        if width > previous:
            steps[width - previous] += 1
        previous = width
    unit = steps.most_common(1)[0][0] if steps and space_led else 4
    return IndentStyle(use_tabs=tab_led > space_led, tab_size=unit if 1 < unit <= 8 else 4)


def _rewrite(line: str, style: IndentStyle) -> str:
    whitespace = leading_whitespace(line)
    if not whitespace:
        return line
    has_tab, has_space = "\t" in whitespace, " " in whitespace
    if style.use_tabs and has_space:
        width = indent_width(line, style.tab_size)
        new = "\t" * (width // style.tab_size) + " " * (width % style.tab_size)
    elif not style.use_tabs and has_tab:
        new = " " * indent_width(line, style.tab_size)
    else:
        return line
    return new + line[len(whitespace) :]


def match_indentation(completion: str, style: IndentStyle, starts_at_line_start: bool) -> str:
    """Rewrite the leading whitespace of every completion line that begins a document line."""
    lines = completion.split("\n")
    first = 0 if starts_at_line_start else 1
    return "\n".join(
        _rewrite(line, style) if index >= first else line for index, line in enumerate(lines)
    )
