"""The "Generate code from this instruction" code action, on a comment or a selection.

The action carries the ``evoselfcode.generateFromInstruction`` command; running it takes a
while, so it is not computed here (code actions must answer fast).
"""

from __future__ import annotations

from lsprotocol import types
from lsprotocol.converters import get_converter

from server.documents import cursor_at, line_text, open_document
from server.errors import DocumentError
from server.instructions.source import is_comment
from server.server import EvoServer

GENERATE_COMMAND = "evoselfcode.generateFromInstruction"
GENERATE_TITLE = "Generate code from this instruction"
KIND = types.CodeActionKind.RefactorRewrite


def register(server: EvoServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[KIND])
    )
    def code_actions(ls: EvoServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        only = [getattr(kind, "value", kind) for kind in params.context.only or ()]
        if only and not any(KIND.value.startswith(kind) for kind in only):
            return []
        try:
            document = open_document(ls.workspace, params.text_document.uri)
            start = cursor_at(document, params.range.start)
            end = cursor_at(document, params.range.end)
        except DocumentError:
            return []
        selected = (start.line, start.column) != (end.line, end.column)
        if not selected and not is_comment(line_text(document, start.line)):
            return []
        argument = {
            "uri": document.uri,
            "range": get_converter().unstructure(params.range),
        }
        return [
            types.CodeAction(
                title=GENERATE_TITLE,
                kind=KIND,
                command=types.Command(
                    title=GENERATE_TITLE, command=GENERATE_COMMAND, arguments=[argument]
                ),
            )
        ]
