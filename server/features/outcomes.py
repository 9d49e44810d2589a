"""Suggestion outcomes: document changes and acceptance reports go to ``ls.outcomes``
(``server/outcomes/tracker.py``); ``evoselfcode.completionOutcomes`` shows the log.

``evoselfcode.completionAccepted`` is the command every served item carries: VS Code (and any
client that runs an item's command) calls it on whole acceptance. Clients that do not are
covered by what the tracker infers from ``didChange``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lsprotocol import types

from server import rpc
from server.documents import LineDocument
from server.server import EvoServer

ACCEPTED_COMMAND = "evoselfcode.completionAccepted"
ACCEPTED_USAGE = f"{ACCEPTED_COMMAND} takes {{id: string, candidate?: number}}"
RECENT_RECORDS = 20


def accepted_command(suggestion_id: str, candidate: int) -> types.Command:
    """The command an item carries; the client runs it when it inserts the item whole."""
    return types.Command(
        title="Accepted",
        command=ACCEPTED_COMMAND,
        arguments=[{"id": suggestion_id, "candidate": candidate}],
    )


def span_text(document: LineDocument, start: types.Position, end: types.Position) -> str:
    """The text between two positions in client units (clamped to the document)."""
    lines = document.lines
    if not lines:
        return ""
    codec = document.position_codec
    # Copies: the codec clamps a position past a line's end by changing it.
    low = codec.position_from_client_units(lines, _copy(start))
    high = codec.position_from_client_units(lines, _copy(end))
    if (high.line, high.character) <= (low.line, low.character):
        return ""
    if low.line == high.line:
        return lines[low.line][low.character : high.character]
    middle = "".join(lines[low.line + 1 : high.line])
    return lines[low.line][low.character :] + middle + lines[high.line][: high.character]


def _copy(position: types.Position) -> types.Position:
    return types.Position(line=position.line, character=position.character)


def register(server: EvoServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: EvoServer, params: types.DidChangeTextDocumentParams) -> None:
        document = ls.workspace.text_documents.get(params.text_document.uri)
        units = document.position_codec.client_num_units if document is not None else len
        changes = [
            (getattr(change, "range", None), change.text) for change in params.content_changes
        ]
        ls.outcomes.changed(params.text_document.uri, changes, units)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: EvoServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.outcomes.closed(params.text_document.uri)

    @server.command(ACCEPTED_COMMAND)
    def completion_accepted(ls: EvoServer, *args: Any) -> dict[str, Any]:
        arg = rpc.command_argument(args, ACCEPTED_USAGE)
        suggestion_id = arg.get("id")
        candidate = arg.get("candidate", 0)
        if (
            not isinstance(suggestion_id, str)
            or isinstance(candidate, bool)
            or not isinstance(candidate, int)
        ):
            raise rpc.invalid_params(ACCEPTED_USAGE)
        return {"known": ls.outcomes.accepted(suggestion_id, candidate)}

    @server.command("evoselfcode.completionOutcomes")
    async def completion_outcomes(ls: EvoServer, *args: Any) -> dict[str, Any]:
        outcome_log = ls.outcome_log()
        try:
            contents = await asyncio.to_thread(outcome_log.read)
        except OSError as exc:
            raise rpc.request_failed(f"could not read {outcome_log.path}: {exc}") from exc
        return {
            "path": str(outcome_log.path),
            "enabled": ls.settings.completion.record_outcomes,
            "records": len(contents.records),
            "skippedLines": contents.skipped_lines,
            "recent": contents.records[-RECENT_RECORDS:],
            "session": ls.outcomes.summary(),
        }
