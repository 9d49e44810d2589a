"""``textDocument/completion`` for clients without inline completions: one item, the infill.

Registered on ``initialize`` only when the client does not declare inline completion
support, so VS Code never shows the suggestion twice. The item's text edit starts at the
word before the cursor, so the client's filtering keeps it while the user types on. Its
command reports acceptance where the client runs it; the outcome tracker infers it elsewhere.
"""

from __future__ import annotations

import re

from lsprotocol import types

from server.completion import CompletionRequest
from server.features.inline_completion import to_range
from server.features.outcomes import accepted_command
from server.outcomes.tracker import Served
from server.server import EvoServer

WORD_BEFORE = re.compile(r"[A-Za-z_0-9]*$")
TRIGGER_CHARACTERS = [".", "(", "[", ",", "=", ":", " "]
LABEL_CHARS = 60


def label(text: str) -> str:
    first, newline, _ = text.strip().partition("\n")
    more = newline or len(first) > LABEL_CHARS
    return first[:LABEL_CHARS] + ("…" if more else "")


def register(server: EvoServer) -> None:
    if types.TEXT_DOCUMENT_COMPLETION in server.protocol.fm.features:
        return

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS),
    )
    async def completion(ls: EvoServer, params: types.CompletionParams) -> types.CompletionList:
        trigger = params.context.trigger_kind if params.context else None
        request = CompletionRequest(
            uri=params.text_document.uri,
            position=params.position,
            invoked=trigger in (None, types.CompletionTriggerKind.Invoked),
        )
        answer = await ls.engine.complete(request)
        span = to_range(answer)
        if answer.suggestion is None or span is None or answer.document is None:
            return types.CompletionList(is_incomplete=True, items=[])
        word = WORD_BEFORE.search(answer.line_prefix)
        word_text = word.group(0) if word else ""
        units = answer.document.position_codec.client_num_units(word_text)
        start = types.Position(line=span.start.line, character=span.start.character - units)
        text = word_text + answer.text
        suggestion_id = ls.outcomes.served(
            Served(
                uri=request.uri,
                position=request.position,
                start=start,
                end=span.end,
                texts=(text,),
                model=ls.status.model.model,
                adapter=ls.status.model.adapter,
            )
        )
        item = types.CompletionItem(
            label=label(text),
            kind=types.CompletionItemKind.Snippet,
            detail="EvoSelfCode",
            documentation=types.MarkupContent(
                kind=types.MarkupKind.Markdown, value=f"```\n{text}\n```"
            ),
            filter_text=text.partition("\n")[0],
            sort_text="0",
            preselect=True,
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=types.Range(start=start, end=span.end), new_text=text),
            command=accepted_command(suggestion_id, 0),
        )
        # Incomplete: the client asks again as the user types; the cache answers those.
        return types.CompletionList(is_incomplete=True, items=[item])
