"""``workspace/executeCommand``: status, instruction to code, new conversation.

Errors the user can act on (no instruction under the cursor, no code in the answer) come
back as JSON-RPC errors whose message says what to do; the server keeps serving. An
instruction naming self-evolution (自我演化 / self-evolve) goes through the generator, the
gates and the verifier instead of the local model (``server/features/self_evolve.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams

from server.errors import InstructionError
from server.features.self_evolve import evolve_from_instruction
from server.instructions.service import GenerateRequest, Plan
from server.instructions.source import is_self_evolve
from server.progress import WorkProgress
from server.protocol import current_command
from server.reasons import EmptyReason
from server.rpc import request_failed
from server.scheduler import JobDropped
from server.server import EvoServer

log = logging.getLogger(__name__)


def register(server: EvoServer) -> None:
    @server.command("evoselfcode.status")
    def status(ls: EvoServer, *args: Any) -> dict[str, Any]:
        return ls.status.snapshot()

    @server.command("evoselfcode.newConversation")
    def new_conversation(ls: EvoServer, *args: Any) -> dict[str, Any]:
        ls.instructions.new_conversation()
        return {}

    @server.command("evoselfcode.generateFromInstruction")
    async def generate_from_instruction(ls: EvoServer, *args: Any) -> dict[str, Any]:
        try:
            request = GenerateRequest.parse(args[0] if args else None)
        except InstructionError as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc
        try:
            plan = ls.instructions.plan(request)
        except InstructionError as exc:
            raise request_failed(str(exc)) from exc
        if is_self_evolve(plan.source.instruction):
            return await evolve_from_instruction(ls, plan.document, plan.source)
        return await _generate(ls, plan)


async def _generate(ls: EvoServer, plan: Plan) -> dict[str, Any]:
    settings = ls.settings
    progress = await WorkProgress.start(
        ls,
        "EvoSelfCode: generating code",
        message=plan.source.instruction[:80],
        token=current_command().work_done_token,
        kind="instruction",
    )
    chars = 0

    def on_text(piece: str) -> None:  # on the chat thread
        nonlocal chars
        chars += len(piece)
        ls.post(progress.report, f"{chars} characters written")

    job = ls.chat_worker.submit_task(
        lambda token: ls.instructions.run(plan, settings, token, on_text)
    )
    progress.on_cancel(lambda: job.cancel(job.reason or EmptyReason.CANCELLED))
    try:
        answer, code = await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        job.cancel(EmptyReason.CANCELLED)
        raise
    except (InstructionError, JobDropped) as exc:
        raise request_failed(f"no code generated: {exc}") from exc
    except Exception as exc:  # the model failed to load or generate: say why
        log.exception("instruction failed")
        raise request_failed(f"the instruct model failed: {exc}") from exc
    finally:
        progress.end()
    inserted, edit = ls.instructions.finish(plan, answer, code)
    applied, failure = await _apply(ls, edit)
    result: dict[str, Any] = {
        "code": inserted,
        "edit": get_converter().unstructure(edit),
        "applied": applied,
        "followUp": plan.follow_up,
        "turns": plan.conversation.turns,
        **ls.instructions.chat_model.describe(),  # which model, and plainly what it is
    }
    if failure:
        result["failureReason"] = failure
    return result


async def _apply(ls: EvoServer, edit: types.WorkspaceEdit) -> tuple[bool, str | None]:
    """Apply through ``workspace/applyEdit`` when the client can; else the caller applies
    the returned edit."""
    workspace = ls.client_capabilities.workspace
    if workspace is None or not workspace.apply_edit:
        return False, "the client does not support workspace/applyEdit; apply the returned edit"
    params = types.ApplyWorkspaceEditParams(edit=edit, label="EvoSelfCode: code from instruction")
    try:
        result = await ls.workspace_apply_edit_async(params)
    except Exception as exc:  # the client answered with an error
        log.warning("the client could not apply the generated code: %s", exc)
        return False, f"workspace/applyEdit failed: {exc}"
    if not result.applied:
        reason = result.failure_reason or "the client refused the edit (the document changed?)"
        log.warning("generated code not applied: %s", reason)
        return False, reason
    return True, None
