"""Code actions: "Self-evolve this function" and "Generate code from this instruction".

"Self-evolve this function" is offered anywhere inside a Python function (tree-sitter finds
it; ~15 ms on a 2,600-line file, so documents over ``MAX_DOCUMENT_CHARS`` are left out), and is
the preferred action when a comment naming 自我演化 or ``self-evolve:`` is in or above the
function. "Generate code from this instruction" is offered on a comment or a selection; on a
self-evolve comment above a function it would do the same as the first, so only the first is
offered there. Each action carries its command; running it takes a while, so nothing is
computed here beyond finding the function (code actions must answer fast).
"""

from __future__ import annotations

from lsprotocol import types
from lsprotocol.converters import get_converter

from evolution.evolve import FunctionLocation, FunctionNotFound, Position, Range, locate_function
from server.documents import Cursor, LineDocument, cursor_at, line_text, open_document
from server.errors import DocumentError
from server.instructions.source import is_comment, is_self_evolve
from server.selfevolve.request import MAX_DOCUMENT_CHARS, is_python
from server.server import EvoServer

GENERATE_COMMAND = "evoselfcode.generateFromInstruction"
GENERATE_TITLE = "Generate code from this instruction"
EVOLVE_COMMAND = "evoselfcode.selfEvolve"
EVOLVE_TITLE = "Self-evolve this function"
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
        argument = {"uri": document.uri, "range": get_converter().unstructure(params.range)}
        actions = []
        function = _function_at(document, start, end, selected)
        if function is not None:
            preferred = function.marker is not None
            actions.append(_action(EVOLVE_TITLE, EVOLVE_COMMAND, argument, preferred))
        line = line_text(document, start.line)
        on_evolve_comment = function is not None and is_self_evolve(line)
        if (selected or is_comment(line)) and not on_evolve_comment:
            actions.append(_action(GENERATE_TITLE, GENERATE_COMMAND, argument, False))
        return actions


def _function_at(
    document: LineDocument, start: Cursor, end: Cursor, selected: bool
) -> FunctionLocation | None:
    if not is_python(document) or not document.lines:
        return None
    source = document.source
    if len(source) > MAX_DOCUMENT_CHARS:
        return None
    at = Position(start.line, start.column)
    where = Range(at, Position(end.line, end.column)) if selected else at
    try:
        return locate_function(source, where)
    except FunctionNotFound:
        return None


def _action(title: str, command: str, argument: dict, preferred: bool) -> types.CodeAction:
    return types.CodeAction(
        title=title,
        kind=KIND,
        is_preferred=preferred or None,
        command=types.Command(title=title, command=command, arguments=[argument]),
    )
