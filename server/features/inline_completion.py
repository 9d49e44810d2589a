"""``textDocument/inlineCompletion`` (LSP 3.18): the main completion path (ghost text).

With ``completion.candidates`` above 1 the list holds several items, the first the usual
suggestion; the editor shows one and cycles through the others (Alt+] / Alt+[ in VS Code).
"""

from __future__ import annotations

from lsprotocol import types

from server.completion import Answer, CompletionRequest
from server.server import EvoServer


def to_range(answer: Answer) -> types.Range | None:
    if answer.start is None or answer.end is None:
        return None
    return types.Range(start=answer.start, end=answer.end)


def register(server: EvoServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: EvoServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        request = CompletionRequest(
            uri=params.text_document.uri,
            position=params.position,
            invoked=params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked,
            formatting=getattr(params, "formatting_options", None),
            selected=params.context.selected_completion_info,
        )
        answer = await ls.engine.complete(request)
        if answer.suggestion is None:
            return types.InlineCompletionList(items=[])
        items = [
            types.InlineCompletionItem(insert_text=each.text, range=to_range(each))
            for each in (answer, *answer.alternatives)
        ]
        return types.InlineCompletionList(items=items)
