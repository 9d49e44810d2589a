"""``textDocument/inlineCompletion`` (LSP 3.18): the main completion path (ghost text).

With ``completion.candidates`` above 1 the list holds several items, the first the usual
suggestion; the editor shows one and cycles through the others (Alt+] / Alt+[ in VS Code).
Each answer is followed to its outcome (``server/outcomes/``); each item carries the command
that reports its acceptance.
"""

from __future__ import annotations

from lsprotocol import types

from server.completion import Answer, CompletionRequest
from server.features.outcomes import accepted_command
from server.outcomes.tracker import Served
from server.server import EvoServer


def to_range(answer: Answer) -> types.Range | None:
    if answer.start is None or answer.end is None:
        return None
    return types.Range(start=answer.start, end=answer.end)


def served(ls: EvoServer, request: CompletionRequest, answers: list[Answer]) -> Served:
    """What the outcome tracker follows for one answer (all its candidates)."""
    first = answers[0]
    start = first.start or request.position
    return Served(
        uri=request.uri,
        position=request.position,
        start=start,
        end=first.end or start,
        texts=tuple(each.text for each in answers),
        model=ls.status.model.model,
        adapter=ls.status.model.adapter,
    )


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
        answers = [answer, *answer.alternatives]
        suggestion_id = ls.outcomes.served(served(ls, request, answers))
        items = [
            types.InlineCompletionItem(
                insert_text=each.text,
                range=to_range(each),
                command=accepted_command(suggestion_id, candidate),
            )
            for candidate, each in enumerate(answers)
        ]
        return types.InlineCompletionList(items=items)
