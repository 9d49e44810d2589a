"""The client side of edits in the end-to-end tests: a document kept in sync with the server.

``Editor`` plays an editor: it opens a document, sends changes, and applies the server's
``workspace/applyEdit`` to its copy (refusing a stale version, as VS Code does), reporting the
change back with ``didChange``.
"""

from __future__ import annotations

from typing import Union

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.server.conftest import open_document


def utf16_offset(line: str, character: int) -> int:
    """The index in ``line`` of a UTF-16 column."""
    units = 0
    for index, char in enumerate(line):
        if units >= character:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(line)


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    """``edits`` (UTF-16 positions, as LSP sends them) applied to ``text``."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(position: types.Position) -> int:
        if position.line >= len(lines):
            return len(text)
        return starts[position.line] + utf16_offset(lines[position.line], position.character)

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


def decode_code_actions_with_commands(client: LanguageClient) -> None:
    """pytest-lsp decodes a CodeAction that carries a command as a bare Command (stack.md)."""
    converter = client.protocol._converter
    converter.register_structure_hook(
        Union[types.Command, types.CodeAction],  # noqa: UP007 (the key lsprotocol uses)
        lambda obj, _: converter.structure(
            obj, types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        ),
    )


class Editor:
    """The client's copy of one document, kept in sync with the server."""

    def __init__(self, client: LanguageClient, uri: str, text: str, language: str = "python"):
        self.client, self.uri, self.text, self.version = client, uri, text, 1
        self.applied: list[types.WorkspaceEdit] = []
        open_document(client, uri, text, language=language)

    def replace_all(self, text: str) -> None:
        self.version += 1
        self.text = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def apply_edit(self, edit: types.WorkspaceEdit) -> bool:
        """Apply a versioned edit as an editor would: refused when the version moved on."""
        self.applied.append(edit)
        [change] = edit.document_changes or ()
        if change.text_document.version != self.version:
            return False
        self.replace_all(apply_text_edits(self.text, list(change.edits)))
        return True

    def apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        if self.apply_edit(params.edit):
            return types.ApplyWorkspaceEditResult(applied=True)
        return types.ApplyWorkspaceEditResult(applied=False, failure_reason="stale version")
