"""Where a proposal goes, pinned by the text it was made from, and the edit that puts it there.

A proposal replaces a function: whole lines of the document (``anchor``), from column 0 of the
first to the end of the last. A new function written from an instruction comment goes after the
comment instead (the anchor is the comment's last line, and the edit inserts at its end). When
the user accepts, the anchor must still be in the document unchanged: at the same lines, or
moved as a whole to one other place (lines added above it); otherwise the proposal is stale.
Columns here are code points; ``client_range`` converts them to the client's encoding (UTF-16
unless negotiated otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lsprotocol import types
from pygls.workspace import PositionCodec

Point = tuple[int, int]  # (line, column in code points)


@dataclass(frozen=True)
class Target:
    first_line: int
    anchor: tuple[str, ...]  # the lines as they were, line ends stripped
    replace: bool  # True: the proposal replaces the anchor; False: it goes after it

    @property
    def original(self) -> str:
        """The text the proposal replaces ("" for an insertion)."""
        return "\n".join(self.anchor) if self.replace else ""

    def locate(self, lines: Sequence[str]) -> int | None:
        """The anchor's first line in ``lines`` (line ends stripped) now, or None when stale."""
        if self._at(lines, self.first_line):
            return self.first_line
        found = [
            i
            for i in range(len(lines) - len(self.anchor) + 1)
            if lines[i] == self.anchor[0] and self._at(lines, i)
        ]
        return found[0] if len(found) == 1 else None

    def span(self, first_line: int) -> tuple[Point, Point]:
        """The range the edit covers when the anchor starts at ``first_line``."""
        last = first_line + len(self.anchor) - 1
        end = (last, len(self.anchor[-1]))
        return ((first_line, 0) if self.replace else end), end

    def _at(self, lines: Sequence[str], first: int) -> bool:
        return tuple(lines[first : first + len(self.anchor)]) == self.anchor


def stripped_lines(lines: Sequence[str]) -> list[str]:
    return [line.rstrip("\r\n") for line in lines]


def client_range(codec: PositionCodec, lines: Sequence[str], span: tuple[Point, Point]):
    """``span`` (code points) as an LSP range in the client's position encoding."""
    (start_line, start_col), (end_line, end_col) = span
    return codec.range_to_client_units(
        lines,
        types.Range(
            start=types.Position(line=start_line, character=start_col),
            end=types.Position(line=end_line, character=end_col),
        ),
    )


def workspace_edit(
    uri: str,
    version: int | None,
    range_: types.Range,
    new_text: str,
    *,
    document_changes: bool,
) -> types.WorkspaceEdit:
    """One text edit; versioned (``documentChanges``) when the client supports that, so a
    client refuses to apply it to a document that changed since."""
    edit = types.TextEdit(range=range_, new_text=new_text)
    if not document_changes:
        return types.WorkspaceEdit(changes={uri: [edit]})
    identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return types.WorkspaceEdit(
        document_changes=[types.TextDocumentEdit(text_document=identifier, edits=[edit])]
    )
