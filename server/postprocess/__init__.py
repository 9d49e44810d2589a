"""Turn raw model output into the suggestion shown in the editor, or a reason to show none.

Deterministic and pure (no model, no LSP), with golden tests in tests/server/test_postprocess.py.
Order matters: special tokens first (nothing after them is this file's text), then the line or
block limit, overlaps with the text after the cursor, indentation, and last the syntax check
on the final text.

The syntax check keeps the longest line prefix of the text that does not parse worse than the
window did without it. Python's own parser judges where it can: when the top-level statements
around the cursor parse before the completion, they must parse after it. tree-sitter alone
cannot tell, its error recovery is too good (``def inner(x):`` with no body counts no error).
Where they do not parse before (the user is mid-edit there, or the window starts inside them),
the completion may not add to the window's tree-sitter errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from lsprotocol import types

from server.context import InfillWindow
from server.postprocess.block import BlockContext, BlockStop
from server.postprocess.indent import IndentStyle, detect_indent, is_blank, match_indentation
from server.postprocess.overlap import (
    drop_lines_repeating_suffix,
    fit_to_line_suffix,
    has_real_text,
)
from server.postprocess.tokens import cut_at_special_token
from server.reasons import EmptyReason

MAX_SYNTAX_TRIMS = 8
# Put on the cursor's blank line to ask whether the statements around it parse: an empty body
# (``def f():`` with the cursor below) does not, yet the completion is what fills it.
PLACEHOLDER = "pass"


@dataclass(frozen=True)
class Suggestion:
    text: str
    replace_after: int = 0  # characters after the cursor (on its line) the text replaces


@dataclass(frozen=True)
class Filtered:
    reason: EmptyReason
    detail: str


class PostProcessor:
    """Everything about one request that shapes its completion, computed once."""

    def __init__(self, window: InfillWindow, formatting: types.FormattingOptions | None = None):
        self.window = window
        self.single_line = has_real_text(window.line_suffix)
        self.style: IndentStyle = detect_indent(window.prefix + window.suffix, formatting)
        self.block = BlockContext(window.prefix, window.suffix, self.style.tab_size)
        self.stop_check = BlockStop(self.block, self.single_line)
        self.crlf = "\r\n" in window.prefix or "\r\n" in window.suffix

    def process(self, raw: str) -> Suggestion | Filtered:
        window = self.window
        text, had_special = cut_at_special_token(raw.replace("\r\n", "\n"))
        if is_blank(text):
            if had_special and not is_blank(raw):
                return Filtered(EmptyReason.FILTERED_SPECIAL_TOKENS, f"raw output {raw!r:.80}")
            return Filtered(EmptyReason.FILTERED_EMPTY, f"raw output {raw!r:.80}")
        text = self.stop_check.cut(text).rstrip()
        if is_blank(text):
            return Filtered(EmptyReason.FILTERED_EMPTY, "nothing before the line or block end")
        at_line_start = is_blank(window.line_prefix)
        before_overlap = text
        if "\n" in text or at_line_start:
            text = drop_lines_repeating_suffix(text, self._lines_below(), at_line_start).rstrip()
        text, replace_after = fit_to_line_suffix(text, window.line_suffix)
        if is_blank(text):
            return Filtered(
                EmptyReason.FILTERED_DUPLICATE, f"{before_overlap!r:.80} is already there"
            )
        text = match_indentation(text, self.style, starts_at_line_start=at_line_start)
        if window.is_python:
            checked = self._syntax_checked(text, replace_after)
            if checked is None:
                return Filtered(EmptyReason.FILTERED_SYNTAX, f"{text!r:.80} parses worse")
            text = checked
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return Suggestion(text, replace_after)

    def _lines_below(self) -> list[str]:
        return self.window.suffix.split("\n")[1:]

    def _syntax_checked(self, text: str, replace_after: int) -> str | None:
        """``text``, or its longest line prefix that does not parse worse, or None."""
        lines = text.split("\n")
        for size in range(len(lines), max(len(lines) - MAX_SYNTAX_TRIMS, 0), -1):
            candidate = "\n".join(lines[:size]).rstrip()
            if is_blank(candidate):
                break
            if not self._parses_worse(candidate, replace_after):
                return candidate
        return None

    def _parses_worse(self, text: str, replace_after: int) -> bool:
        from evolution.codecheck import parse_or_none, syntax_error_count

        prefix, suffix = self.window.prefix, self.window.suffix
        if self._python_region is not None:
            start, end = self._python_region
            return parse_or_none(prefix[start:] + text + suffix[replace_after:end]) is None
        return syntax_error_count(prefix + text + suffix[replace_after:]) > self._tree_sitter_errors

    @cached_property
    def _tree_sitter_errors(self) -> int:
        from evolution.codecheck import syntax_error_count

        return syntax_error_count(self.window.prefix + self.window.suffix)

    @cached_property
    def _python_region(self) -> tuple[int, int] | None:
        """(start in the prefix, end in the suffix) of the text Python's parser judges
        completions on; None where that text does not parse before the completion, as it is or
        with ``PLACEHOLDER`` on the cursor's blank line.

        The text is the top-level statements around the cursor or, where they do not parse (the
        window ends inside them, or the code below the cursor is mid-edit), those statements up
        to the end of the cursor's line. Completed statements that parse on their own leave the
        rest of the file as it was (a string or bracket left open for the rest to close fails
        here), and a few statements parse faster than the whole window.
        """
        from evolution.codecheck import parse_or_none

        window = self.window
        statements = self._statements_around_cursor()
        if statements is None:
            return None
        start, end = statements
        line_end = min(len(window.line_suffix), end)
        blank_line = is_blank(window.line_prefix) and is_blank(window.line_suffix)
        prefix = window.prefix[start:]
        for stop in dict.fromkeys((end, line_end)):
            suffix = window.suffix[:stop]
            if parse_or_none(prefix + suffix) is not None or (
                blank_line and parse_or_none(prefix + PLACEHOLDER + suffix) is not None
            ):
                return start, stop
        return None

    def _statements_around_cursor(self) -> tuple[int, int] | None:
        """(start in the prefix, end in the suffix) of the top-level statements around the
        cursor, from the last one that starts at or before it up to the next one, as tree-sitter
        finds them; None where the window starts inside them. tree-sitter's statement bounds
        hold where the window starts or ends inside another statement, which ``ast`` cannot
        parse."""
        from evolution.codecheck import tree_sitter_parse

        window = self.window
        before = window.prefix.encode("utf-8", errors="surrogatepass")
        after = window.suffix.encode("utf-8", errors="surrogatepass")
        cursor = len(before)
        # The window's first line starts a statement if it is not indented.
        start, end = None if window.prefix[:1] in (" ", "\t") else 0, len(before) + len(after)
        for node in tree_sitter_parse(window.prefix + window.suffix).root_node.children:
            if node.start_point[1] != 0 or node.type == "comment":
                continue  # not a statement's start: after a ";", or a comment in a body
            if node.start_byte <= cursor:
                start = node.start_byte
            else:
                end = node.start_byte
                break
        if start is None:
            return None
        return (
            len(before[:start].decode("utf-8", errors="surrogatepass")),
            len(after[: end - cursor].decode("utf-8", errors="surrogatepass")),
        )
