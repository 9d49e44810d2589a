"""Where a completion should end: the end of the line, or the end of the current block.

The rule follows Tabby's indentation scope: the first non-blank completion line, compared
with the last non-blank line before the cursor, says whether the completion continues a
statement, opens a block, or starts a statement at the same or a lower level; the completion
ends at the first later line indented below that scope (a closing-bracket line may end it).
``BlockStop`` applies the same rule to the text streamed so far, so generation stops as soon
as the model leaves the block instead of running to ``max_tokens``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.postprocess.indent import indent_width, is_blank

CLOSING_LINE = re.compile(r"^\s*[)\]}]")


def is_closing_line(line: str) -> bool:
    return bool(CLOSING_LINE.match(line))


@dataclass(frozen=True)
class Scope:
    limit: int  # lines after the first must be indented at least this many columns
    allow_closing_line: bool  # a line that dedents with a closing bracket may end the block


class BlockContext:
    """What the scope rule needs from the document, computed once per request."""

    def __init__(self, prefix: str, suffix: str, tab_size: int = 4):
        self.tab_size = tab_size
        prefix_lines = prefix.split("\n")
        self.current_line = prefix_lines[-1]
        reference = next((line for line in reversed(prefix_lines) if not is_blank(line)), None)
        self.reference_indent = None if reference is None else self._indent(reference)
        next_line = next((line for line in suffix.split("\n")[1:] if not is_blank(line)), "")
        self.suffix_closes = is_closing_line(next_line)

    def _indent(self, line: str) -> int:
        return indent_width(line, self.tab_size)

    def scope(self, lines: list[str]) -> Scope | None:
        """The scope once the completion has a non-blank line; None before."""
        first = next((i for i, line in enumerate(lines) if not is_blank(line)), None)
        if first is None:
            return None
        if self.reference_indent is None:  # nothing but blank lines before the cursor
            return Scope(limit=1, allow_closing_line=True)
        reference = self.reference_indent
        head = self.current_line + lines[0] if first == 0 else lines[first]
        indent = self._indent(head)
        allow_closing = not self.suffix_closes
        if first == 0 and not is_blank(self.current_line):
            # Continuing the statement on the cursor's line: keep only its continuation.
            return Scope(reference + 1, allow_closing)
        if indent > reference:  # opening a block: its body, then stop
            return Scope(reference + 1, allow_closing_line=False)
        # A statement at the same or a lower level: the rest of that block (one top-level
        # statement at column 0, or it would never end).
        return Scope(max(indent, 1), allow_closing)

    def end_of_block(self, text: str) -> int | None:
        """Index where ``text`` leaves the block, or None while it is still inside."""
        lines = text.split("\n")
        scope = self.scope(lines)
        if scope is None:
            return None
        offset = len(lines[0]) + 1
        for index in range(1, len(lines)):
            line = lines[index]
            if not is_blank(line) and self._indent(line) < scope.limit:
                if not (scope.allow_closing_line and is_closing_line(line)):
                    return offset - 1
                if index < len(lines) - 1:  # a complete closing line ends the block
                    return offset + len(line)
                return None  # wait for the closing line to be complete
            offset += len(line) + 1
        return None


def first_line_end(text: str) -> int | None:
    """Index of the first line end after some text on the first line, if any."""
    index = text.find("\n")
    return index if index >= 0 else None


class BlockStop:
    """``stop_check`` for generation: true once the streamed text is complete."""

    def __init__(self, context: BlockContext, single_line: bool):
        self.context = context
        self.single_line = single_line

    def __call__(self, text: str) -> bool:
        if self.single_line:
            return first_line_end(text) is not None
        return self.context.end_of_block(text) is not None

    def cut(self, text: str) -> str:
        """``text`` up to where this rule ends it."""
        end = first_line_end(text) if self.single_line else self.context.end_of_block(text)
        return text if end is None else text[:end]
