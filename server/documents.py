"""Open documents kept as lists of lines, so edits and lookups cost O(lines touched).

pygls' own ``TextDocument`` re-splits the whole text on every edit and every position lookup:
on a 5 MB file that is ~60 ms per keystroke and ~100 ms per completion request, and a burst
of a thousand ``didChange`` notifications would stall the server for a minute. ``LineDocument``
splices only the changed lines and joins the full text only when someone asks for it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from server.errors import DocumentError

# str.splitlines also breaks at \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029; LSP (and every
# editor's line numbers) only at \n, \r\n and \r. A form feed must not shift every line below.
_NON_LSP_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_LSP_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> list[str]:
    """Lines as LSP counts them, each with its line end."""
    if not _NON_LSP_BREAKS.search(text):
        return text.splitlines(keepends=True)  # the same lines, computed faster
    return _LSP_LINE.findall(text)


class LineDocument(TextDocument):
    """A ``TextDocument`` whose source of truth is a list of lines (each with its line end)."""

    def __init__(self, uri: str, source: str | None = None, *args, **kwargs):
        super().__init__(uri, source, *args, **kwargs)
        self._lines: list[str] = split_lines(source or "")
        self._joined: str | None = source or ""
        self.edited_at = time.monotonic()  # for "recently edited first" in the prompt

    @property
    def lines(self) -> Sequence[str]:
        """The document's lines; callers must not mutate the list."""
        return self._lines

    @property
    def source(self) -> str:
        if self._joined is None:
            self._joined = "".join(self._lines)
        return self._joined

    def _touch(self) -> None:
        self._joined = None
        self.edited_at = time.monotonic()

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        self._lines = split_lines(change.text)
        self._touch()

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        lines = self._lines
        if not lines:
            lines[:] = split_lines(change.text)
        else:
            # pygls clamps positions past the end to the end of the last line.
            span = self.position_codec.range_from_client_units(lines, change.range)
            start, end = span.start, span.end
            head = lines[start.line][: start.character]
            tail = lines[end.line][end.character :]
            # Re-split one neighbour on each side too: a "\r" and a "\n" that meet across
            # the edit become one line end.
            low, high = max(start.line - 1, 0), min(end.line + 2, len(lines))
            text = "".join(
                [*lines[low : start.line], head, change.text, tail, *lines[end.line + 1 : high]]
            )
            lines[low:high] = split_lines(text)
        self._touch()


class LineWorkspace(Workspace):
    """A pygls ``Workspace`` that stores open documents as ``LineDocument``."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LineDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )


@dataclass(frozen=True)
class Cursor:
    """A validated position: line index and column in code points (Python string index)."""

    line: int
    column: int


def open_document(workspace: Workspace, uri: str) -> LineDocument:
    """The open document at ``uri``; never reads a file from disk for an unknown uri."""
    document = workspace.text_documents.get(uri)
    if document is None:
        raise DocumentError(f"{uri} is not open (the client never opened it, or closed it)")
    if not isinstance(document, LineDocument):
        raise DocumentError(f"{uri} is not held as a LineDocument")  # initialize not run
    return document


def cursor_at(document: LineDocument, position: types.Position) -> Cursor:
    """Check ``position`` against the document and convert it to code points.

    LSP allows the line just past a final newline, and a character at a line's end.
    """
    lines = document.lines
    if position.line >= len(lines):
        ends_open = not lines or lines[-1].endswith(("\n", "\r"))
        if position.line == len(lines) and position.character == 0 and ends_open:
            return Cursor(len(lines), 0)
        raise DocumentError(f"line {position.line} is outside {document.uri} ({len(lines)} lines)")
    text = lines[position.line].rstrip("\r\n")
    width = document.position_codec.client_num_units(text)
    if position.character > width:
        raise DocumentError(
            f"character {position.character} is past the end of line {position.line} "
            f"({width} characters) in {document.uri}"
        )
    server = document.position_codec.position_from_client_units(lines, position)
    return Cursor(position.line, server.character)


def line_text(document: LineDocument, line: int) -> str:
    """The text of ``line`` without its line end ('' past the end)."""
    lines = document.lines
    return lines[line].rstrip("\r\n") if line < len(lines) else ""
