"""``evoselfcode.selfEvolve``: one function through the generator, the gates and the verifier.

The command runs the flow (``evolution.evolve``) on a copy of the document with a cancellable
``$/progress`` bar (the request's own ``workDoneToken`` when the client sent one); cancelling
the bar or the request cancels the flow's task, which closes its HTTP requests. The result is
kept under its id for ``evoselfcode.acceptEvolution`` / ``rejectEvolution``
(``server/features/proposals.py``) and returned with the edit that applies it.

Clients without their own UI for this (no ``clientUi`` in ``initializationOptions``) are asked
with ``window/showMessageRequest`` (Accept / Reject) right after the answer, and the server
applies the edit itself; rejections and errors come as ``window/showMessage``.

"Generate code from this instruction" on a comment naming 自我演化 / self-evolve comes here
too (``evolve_from_instruction``): the function at the comment is evolved, or, with no
function there, a new one is written by the generator and goes below the comment.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter

from evolution.evolve import (
    EvolveRequest,
    EvolveResult,
    FunctionNotFound,
    Position,
    ProgressEvent,
    locate_function,
)
from server import rpc
from server.documents import LineDocument
from server.features import proposals
from server.instructions.answer import indent_code
from server.instructions.source import InstructionSource
from server.progress import WorkProgress
from server.protocol import current_command
from server.selfevolve import messages
from server.selfevolve.request import Snapshot, check_document, read_call
from server.selfevolve.service import EvolveSetupError, Proposal
from server.selfevolve.target import Target
from server.server import EvoServer

log = logging.getLogger(__name__)

STAGES = {
    "locate": "finding the function",
    "generate": "generating",
    "reply": "reading the reply",
    "syntax": "checking syntax",
    "execution": "running the generated tests",
    "verifier": "asking the verifier",
    "done": "done",
}
_MARKER = re.compile(r"(自我演化|self[-_ ]?evolve)\s*[:：]?", re.IGNORECASE)


def register(server: EvoServer) -> None:
    @server.command("evoselfcode.selfEvolve")
    async def self_evolve(ls: EvoServer, *args: Any) -> dict[str, Any]:
        call = read_call(ls.workspace, args)
        snapshot = call.snapshot
        request = EvolveRequest(snapshot.source, call.where, snapshot.path, call.instruction)
        return await evolve(ls, snapshot, request)


async def evolve_from_instruction(
    ls: EvoServer, document: LineDocument, source: InstructionSource
) -> dict[str, Any]:
    """An instruction naming self-evolution: evolve the function there, or write a new one."""
    check_document(document)
    snapshot = Snapshot.of(document)
    words = " ".join(_MARKER.sub(" ", source.instruction).split()).strip(" :：,，-—") or None
    at = Position(source.last_line, len(source.indent))
    try:
        locate_function(snapshot.source, at)
    except FunctionNotFound:  # no function here: the generator writes one
        request = EvolveRequest(None, None, snapshot.path, words or source.instruction)
        return await evolve(ls, snapshot, request, insert_after=source)
    return await evolve(ls, snapshot, EvolveRequest(snapshot.source, at, snapshot.path, words))


async def evolve(
    ls: EvoServer,
    snapshot: Snapshot,
    request: EvolveRequest,
    insert_after: InstructionSource | None = None,
) -> dict[str, Any]:
    """Run the flow with progress and cancellation; keep and return the proposal."""
    command = current_command()
    progress = await WorkProgress.start(
        ls,
        "EvoSelfCode: self-evolving",
        message=STAGES["locate"],
        token=command.work_done_token,
        kind="evolve",
    )
    task = asyncio.current_task()
    assert task is not None
    by_progress = False

    def cancel_from_progress() -> None:
        nonlocal by_progress
        by_progress = True
        task.cancel()

    progress.on_cancel(cancel_from_progress)
    ls.protocol.on_cancel_request(command.msg_id, task.cancel)

    def on_progress(event: ProgressEvent) -> None:
        label = STAGES.get(event.stage, event.stage)
        shown = f"{label} ({event.message})" if event.stage in ("generate", "verifier") else label
        progress.report(shown, 100 * event.step / event.total, force=True)

    try:
        result = await ls.evolve.run(request, ls.settings, on_progress)
    except asyncio.CancelledError:
        log.info("self-evolve cancelled: its requests were closed and nothing was recorded")
        progress.end("cancelled")
        if by_progress:  # the request itself is still open: answer it
            raise rpc.request_failed("self-evolution cancelled; nothing was recorded") from None
        raise
    except EvolveSetupError as exc:
        progress.end(str(exc))
        raise rpc.request_failed(str(exc)) from exc
    except Exception as exc:  # the sandbox could not start, or a bug: say so, keep serving
        log.exception("self-evolve failed")
        progress.end(f"failed: {exc}")
        raise rpc.request_failed(f"self-evolution failed: {exc}") from exc
    progress.end(result.reason)
    proposal = _proposal(result, snapshot, insert_after)
    if proposal.target is not None and result.status != "error":
        ls.evolve.keep(proposal)  # rejected ones too: accepting one says which gate said no
    log.info("self-evolve %s: %s (%s)", result.id, result.status, result.reason)
    payload = result_json(ls, proposal)
    if not ls.client_ui:
        ls.spawn(_follow_up(ls, proposal, payload))
    return payload


def _proposal(
    result: EvolveResult, snapshot: Snapshot, insert_after: InstructionSource | None
) -> Proposal:
    lines = [line.rstrip("\r\n") for line in snapshot.lines]
    location = result.location
    if location is not None:
        first, last = location.range.start.line, location.range.end.line
        target = Target(first, tuple(lines[first : last + 1]), replace=True)
        return Proposal(result, snapshot, target, result.proposed)
    if insert_after is not None:
        line = insert_after.last_line
        target = Target(line, (lines[line] if line < len(lines) else "",), replace=False)
        code = result.proposed_function
        newline = _newline(snapshot.lines[line] if line < len(snapshot.lines) else "\n")
        new_text = None
        if code is not None:
            new_text = "\n" + indent_code(code.strip("\n"), insert_after.indent)
            new_text = new_text.replace("\n", newline)
        return Proposal(result, snapshot, target, new_text)
    return Proposal(result, snapshot, None, None)


def _newline(line: str) -> str:
    for end in ("\r\n", "\n", "\r"):
        if line.endswith(end):
            return end
    return "\n"


def result_json(ls: EvoServer, proposal: Proposal) -> dict[str, Any]:
    """The command's result: ``EvolveResult.to_json()`` with LSP positions and the edit."""
    result = proposal.result
    payload = result.to_json()
    payload["reason"] = messages.error_message(result)
    payload["edit"] = None
    if proposal.target is None:
        return payload
    placed = proposals.place(ls, proposal)
    payload["range"] = get_converter().unstructure(placed.range)
    payload["version"] = placed.version
    payload["proposed"] = proposal.new_text
    if not proposal.target.replace:
        payload["original"] = ""
    if result.ok and proposal.new_text is not None:
        payload["edit"] = get_converter().unstructure(placed.edit(ls, proposal.new_text))
    return payload


async def _follow_up(ls: EvoServer, proposal: Proposal, payload: dict[str, Any]) -> None:
    """For clients without their own UI: ask Accept / Reject, or say why there is nothing."""
    result = proposal.result
    try:
        if result.status == "error":
            _show(ls, types.MessageType.Error, f"EvoSelfCode: {payload['reason']}")
        elif not result.ok:
            _show(ls, types.MessageType.Warning, messages.rejection(result))
        elif proposal.target is not None and proposal.new_text is not None:
            proposed = proposal.new_text.replace("\r\n", "\n").replace("\r", "\n")
            diff = messages.diff(proposal.target.original, proposed, proposal.snapshot.path)
            log.info("proposed change:\n%s", diff)
            await _ask(ls, proposal)
    except Exception:  # the client went away or cannot answer
        log.warning("could not ask the client about self-evolve %s", result.id, exc_info=True)


async def _ask(ls: EvoServer, proposal: Proposal) -> None:
    actions = [types.MessageActionItem(title="Accept"), types.MessageActionItem(title="Reject")]
    answer = await ls.window_show_message_request_async(
        types.ShowMessageRequestParams(
            type=types.MessageType.Info,
            message=messages.question(proposal.result),
            actions=actions,
        )
    )
    proposal_id = proposal.result.id
    if answer is None:  # dismissed: it stays pending for evoselfcode.acceptEvolution
        return
    if answer.title != "Accept":
        ls.evolve.drop(proposal_id)
        _show(ls, types.MessageType.Info, "EvoSelfCode: proposal discarded; nothing recorded.")
        return
    try:
        outcome = await proposals.accept(ls, proposal_id, applied_by_client=False)
    except Exception as exc:  # a JSON-RPC error with the reason (stale, not applied...)
        _show(ls, types.MessageType.Warning, f"EvoSelfCode: {getattr(exc, 'message', exc)}")
        return
    _show(ls, types.MessageType.Info, f"EvoSelfCode: applied; {proposals.describe(outcome)}.")


def _show(ls: EvoServer, kind: types.MessageType, message: str) -> None:
    ls.window_show_message(types.ShowMessageParams(type=kind, message=message))
