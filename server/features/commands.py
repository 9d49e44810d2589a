"""``workspace/executeCommand``: status, instruction to code, new conversation.

Errors the user can act on (no instruction under the cursor, no code in the answer) come
back as JSON-RPC errors whose message says what to do; the server keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from server.errors import InstructionError
from server.instructions.service import GenerateRequest, Plan
from server.instructions.source import is_self_evolve
from server.reasons import EmptyReason
from server.scheduler import JobDropped
from server.server import EvoServer

log = logging.getLogger(__name__)
REQUEST_FAILED = -32803  # LSP's RequestFailed: the request was valid but could not be done
PROGRESS_INTERVAL_S = 0.5


def request_failed(message: str) -> JsonRpcException:
    return JsonRpcException(message=message, code=REQUEST_FAILED)


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
            return await _self_evolve(ls, dict(args[0]), plan.source.instruction)
        return await _generate(ls, plan)


async def _self_evolve(ls: EvoServer, args: dict[str, Any], instruction: str) -> dict[str, Any]:
    if ls.self_evolve is None:
        raise request_failed(
            "this instruction asks for self-evolution (自我演化 / self-evolve), which runs on "
            "the generator and verifier models; that flow is not available in this build yet. "
            "Remove the keyword to generate with the local instruct model."
        )
    return await ls.self_evolve(ls, args, instruction)


async def _generate(ls: EvoServer, plan: Plan) -> dict[str, Any]:
    settings = ls.settings
    progress = await _Progress.start(ls, plan.source.instruction)
    job = ls.chat_worker.submit_task(
        lambda token: ls.instructions.run(plan, settings, token, progress.on_text)
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


class _Progress:
    """A cancellable ``$/progress`` bar while the model writes; silent for clients without."""

    def __init__(self, ls: EvoServer, token: str | None):
        self.ls, self.token = ls, token
        self.chars = 0
        self._last_report = 0.0

    @classmethod
    async def start(cls, ls: EvoServer, instruction: str) -> _Progress:
        window = ls.client_capabilities.window
        if window is None or not window.work_done_progress:
            return cls(ls, None)
        token = f"evoselfcode-instruction-{uuid.uuid4().hex[:8]}"
        try:
            await ls.work_done_progress.create_async(token)
        except Exception as exc:
            log.debug("no progress bar: %s", exc)
            return cls(ls, None)
        ls.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title="EvoSelfCode: generating code",
                message=instruction[:80],
                cancellable=True,
            ),
        )
        return cls(ls, token)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        if self.token is not None:
            future = self.ls.work_done_progress.tokens.get(self.token)
            if future is not None:
                future.add_done_callback(lambda f: f.cancelled() and callback())

    def on_text(self, piece: str) -> None:
        """Called on the chat thread for each piece of the answer."""
        self.chars += len(piece)
        if self.token is None:
            return
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_INTERVAL_S:
            self._last_report = now
            report = types.WorkDoneProgressReport(message=f"{self.chars} characters written")
            self.ls.post(self.ls.work_done_progress.report, self.token, report)

    def end(self) -> None:
        if self.token is not None:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd())
            self.ls.work_done_progress.tokens.pop(self.token, None)
