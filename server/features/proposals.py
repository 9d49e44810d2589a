"""Accept or reject a self-evolve proposal: ``evoselfcode.acceptEvolution`` / ``rejectEvolution``.

Accepting re-checks the open document first: the function must still read exactly as it did
when the proposal was made (at the same lines, or moved as a whole), else the proposal is stale
and refused, and nothing is recorded. Then the edit is applied, by the client itself
(``applied: true``; the default for clients with their own UI, ``clientUi``) or by the server
through ``workspace/applyEdit``, and the (instruction, code) pair goes into the training-data
store. Rejecting forgets the proposal and records nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from server import rpc
from server.documents import LineDocument
from server.selfevolve.service import Proposal
from server.selfevolve.target import client_range, stripped_lines, workspace_edit
from server.server import EvoServer

if TYPE_CHECKING:
    from evolution.store import AddOutcome

log = logging.getLogger(__name__)
ACCEPT_USAGE = "evoselfcode.acceptEvolution takes {id, applied?}"
REJECT_USAGE = "evoselfcode.rejectEvolution takes {id}"


def register(server: EvoServer) -> None:
    @server.command("evoselfcode.acceptEvolution")
    async def accept_evolution(ls: EvoServer, *args: Any) -> dict[str, Any]:
        arg = rpc.command_argument(args, ACCEPT_USAGE)
        proposal_id = _id(arg, ACCEPT_USAGE)
        applied = rpc.optional_bool(arg, "applied", default=ls.client_ui)
        return await accept(ls, proposal_id, applied_by_client=applied)

    @server.command("evoselfcode.rejectEvolution")
    def reject_evolution(ls: EvoServer, *args: Any) -> dict[str, Any]:
        proposal_id = _id(rpc.command_argument(args, REJECT_USAGE), REJECT_USAGE)
        dropped = ls.evolve.drop(proposal_id) is not None
        log.info("self-evolve %s rejected: nothing recorded", proposal_id)
        return {"dropped": dropped}


def _id(arg: Any, usage: str) -> str:
    proposal_id = arg.get("id")
    if not isinstance(proposal_id, str) or not proposal_id:
        raise rpc.invalid_params(usage)
    return proposal_id


@dataclass(frozen=True)
class Placement:
    """Where a proposal goes in the document: now, if its function is still there."""

    uri: str
    version: int | None
    range: types.Range  # in the client's position encoding
    current: bool  # found in the open document as it is now (else: where it was)

    def edit(self, ls: EvoServer, new_text: str) -> types.WorkspaceEdit:
        capabilities = ls.client_capabilities.workspace
        edit_caps = capabilities.workspace_edit if capabilities else None
        versioned = bool(edit_caps and edit_caps.document_changes)
        return workspace_edit(
            self.uri, self.version, self.range, new_text, document_changes=versioned
        )


def place(ls: EvoServer, proposal: Proposal) -> Placement:
    target, snapshot = proposal.target, proposal.snapshot
    assert target is not None
    codec = ls.workspace.position_codec
    document = ls.workspace.text_documents.get(snapshot.uri)
    if isinstance(document, LineDocument):
        first = target.locate(stripped_lines(document.lines))
        if first is not None:
            span = client_range(codec, document.lines, target.span(first))
            return Placement(snapshot.uri, document.version, span, current=True)
    span = client_range(codec, snapshot.lines, target.span(target.first_line))
    return Placement(snapshot.uri, snapshot.version, span, current=False)


async def accept(ls: EvoServer, proposal_id: str, *, applied_by_client: bool) -> dict[str, Any]:
    """Check, apply (unless the client does) and record; JSON-RPC errors say why not."""
    proposal = ls.evolve.get(proposal_id)
    if proposal is None:
        raise rpc.request_failed(
            f"no self-evolve proposal {proposal_id}: it was accepted or rejected already, or "
            "the server restarted since; run self-evolve again"
        )
    result = proposal.result
    if not result.ok:
        raise rpc.request_failed(
            f"the proposal {proposal_id} was rejected by the {result.rejected_by} gate "
            f"({result.reason}); only code that passed every gate is recorded"
        )
    assert proposal.target is not None and proposal.new_text is not None
    uri = proposal.snapshot.uri
    if not isinstance(ls.workspace.text_documents.get(uri), LineDocument):
        raise rpc.request_failed(f"open {uri} again to accept: the proposal is checked against it")
    placement = place(ls, proposal)
    if not placement.current:
        what = f"`{result.function_name}`" if proposal.target.replace else "the instruction"
        raise rpc.request_failed(
            f"{what} changed in {proposal.snapshot.path} since the proposal was made, so it was "
            "not applied and nothing was recorded; run self-evolve again"
        )
    applied = False
    if not applied_by_client:
        await _apply(ls, placement.edit(ls, proposal.new_text))
        applied = True
    try:
        outcome = await ls.evolve.record(result, ls.settings.data_dir)
    except Exception as exc:  # the store failed (disk full, permissions, a corrupt file)
        log.exception("could not record self-evolve %s", proposal_id)
        done = "the edit was applied, but " if applied else ""
        raise rpc.request_failed(f"{done}the pair could not be recorded: {exc}") from exc
    ls.evolve.drop(proposal_id)
    log.info("self-evolve %s accepted: %s", proposal_id, describe(_answer(outcome, applied)))
    return _answer(outcome, applied)


async def _apply(ls: EvoServer, edit: types.WorkspaceEdit) -> None:
    capabilities = ls.client_capabilities.workspace
    if capabilities is None or not capabilities.apply_edit:
        raise rpc.request_failed(
            "this client cannot apply edits sent by the server (no workspace/applyEdit): apply "
            "the selfEvolve result's edit yourself, then accept with {id, applied: true}"
        )
    params = types.ApplyWorkspaceEditParams(edit=edit, label="EvoSelfCode: self-evolve")
    try:
        answer = await ls.workspace_apply_edit_async(params)
    except Exception as exc:  # the client answered with an error
        raise rpc.request_failed(f"the edit was not applied ({exc}); nothing recorded") from exc
    if not answer.applied:
        why = answer.failure_reason or "the client refused it (the document changed?)"
        raise rpc.request_failed(f"the edit was not applied ({why}); nothing recorded")


def _answer(outcome: AddOutcome, applied: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "recorded": outcome.recorded,
        "recordId": outcome.record_id or outcome.duplicate_of,
        "duplicate": outcome.duplicate_of is not None,
        "applied": applied,
    }
    if outcome.flagged:
        answer["flagged"] = True  # overlaps a benchmark: kept, but never trained on
        answer["reasons"] = list(outcome.reasons)
    return answer


def describe(answer: dict[str, Any]) -> str:
    if answer["recorded"]:
        flagged = " (flagged: it overlaps a benchmark, so it is kept out of training)"
        return f"recorded as training pair {answer['recordId']}" + (
            flagged if answer.get("flagged") else ""
        )
    if answer["duplicate"]:
        return f"the same code is already recorded ({answer['recordId']})"
    return "not recorded"
