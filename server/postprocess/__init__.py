"""Turn raw model output into the suggestion shown in the editor, or a reason to show none.

Deterministic and pure (no model, no LSP), with golden tests in tests/server/test_postprocess.py.
Order matters: special tokens first (nothing after them is this file's text), then the line or
block limit, overlaps with the text after the cursor, indentation, and last the syntax check
on the final text.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        from evolution.codecheck import syntax_error_count

        prefix, suffix = self.window.prefix, self.window.suffix
        baseline = syntax_error_count(prefix + suffix)
        lines = text.split("\n")
        for size in range(len(lines), max(len(lines) - MAX_SYNTAX_TRIMS, 0), -1):
            candidate = "\n".join(lines[:size]).rstrip()
            if is_blank(candidate):
                break
            if syntax_error_count(prefix + candidate + suffix[replace_after:]) <= baseline:
                return candidate
        return None
