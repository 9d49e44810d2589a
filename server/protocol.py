"""pygls protocol tweaks: every request gets exactly one answer; command requests.

Reading messages. pygls parses a body with ``json.loads(body,
object_hook=protocol.structure_message)`` (``pygls.io_.run_async``), so json calls
``structure_message`` for every object in the message, innermost first, and
``JsonRPCProtocol.structure_message`` takes any object with a ``"jsonrpc"`` key for a message
of its own. Such an object inside params (a diagnostic's free-form ``data``, a command's
arguments) either failed to structure, and the whole message was dropped unanswered, or was
answered as a request of its own, a second time when its id was a pending request's. Here
``structure_message`` leaves every object as parsed and ``handle_message`` reads the whole
message once: its envelope (``server/envelope.py``), then its params (``server/converter.py``,
strict about types).

A message that cannot be handled is rejected: one log line (the client's error, not ours: no
traceback), one count in the status, and the answer JSON-RPC asks for: ``InvalidRequest`` for
a broken envelope or a request after ``shutdown`` (LSP), ``InvalidParams`` naming the method,
``ParseError`` with id null for a body that is no JSON (pygls passes that failure of
``json.loads`` to ``EvoServer.report_server_error``). Notifications and responses are never
answered. Tracebacks are left for the server's own faults.

Commands. Command handlers get only the command's arguments. ``current_command()`` gives them
the rest of the request: its id and the client's ``workDoneToken``. pygls runs a command
handler under an id of its own, so ``$/cancelRequest`` only answers the request as cancelled
and the handler keeps running; ``on_cancel_request`` lets a long command stop too (self-evolve
stops its HTTP requests).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
    lsp_method,
)
from pygls.workspace import Workspace

from server.converter import problems
from server.envelope import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    Envelope,
    Kind,
    MsgId,
    Rejected,
    read_envelope,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandRequest:
    """The ``workspace/executeCommand`` request a command handler is answering."""

    msg_id: Any = None
    work_done_token: types.ProgressToken | None = None


# Set per request: pygls runs each message in its own copy of the context.
_COMMAND: contextvars.ContextVar[CommandRequest | None] = contextvars.ContextVar(
    "evoselfcode_command", default=None
)


def current_command() -> CommandRequest:
    """The request of the running command handler (an empty one outside of commands)."""
    return _COMMAND.get() or CommandRequest()


class EvoProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_rejected: Callable[[], object] = lambda: None  # EvoServer counts them
        self._exited = False

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Leave each object as parsed: json calls this for nested objects too."""
        return data

    def handle_message(self, message: Any) -> None:
        """Handle one parsed body (any JSON value), or reject it."""
        try:
            structured = self._structure(message)
        except Rejected as rejected:
            self.reject(rejected)
            return
        try:
            super().handle_message(structured)
        except Exception:
            # pygls answers what a handler raises; a failure here is the server's own fault.
            # Caught, so that what pygls's read loop reports is only a body that is no JSON.
            log.exception("could not handle a message")

    def reject(self, rejected: Rejected) -> None:
        """Log one line, count it, and answer when JSON-RPC wants an answer."""
        about = "" if rejected.msg_id is None else f" (id {rejected.msg_id!r:.40})"
        log.warning("rejected a message%s: %s", about, rejected.reason)
        self.on_rejected()
        if rejected.answered:
            self._send_error(rejected.msg_id, rejected.code, rejected.reason)

    def reject_unparsable(self, error: Exception) -> None:
        """A body ``json.loads`` failed on: not JSON, not UTF-8, or nested too deep."""
        self.reject(Rejected(PARSE_ERROR, f"the message is not JSON: {error}"))

    def _send_error(self, msg_id: MsgId | None, code: int, message: str) -> None:
        # A plain dict: the converter leaves out an id that is None; JSON-RPC wants it null.
        error = {"code": code, "message": message}
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": error})

    def _structure(self, message: Any) -> Any:
        """The message as pygls's handlers take it; ``Rejected`` when it cannot be handled."""
        envelope = read_envelope(message)
        if self._shutdown and envelope.kind is not Kind.RESPONSE and envelope.method != types.EXIT:
            answered = envelope.kind is Kind.REQUEST
            raise Rejected(INVALID_REQUEST, "the server is shut down", envelope.msg_id, answered)
        message_type, fields = self._message_type(envelope, message)
        if fields is not None:  # pygls's generic message types take no other keys
            message = {key: message.get(key) for key in fields}
        try:
            return self._converter.structure(message, message_type)
        except Exception as exc:
            raise self._invalid(envelope, exc) from None

    def _message_type(self, envelope: Envelope, message: dict[str, Any]) -> tuple[type, Any]:
        """The type to structure the message as, and the keys it takes (None: all)."""
        if envelope.kind is Kind.RESPONSE:
            # Only to a request of ours: pygls looks the id up among the futures of the
            # client's requests too, and would answer one of those with this "result".
            if envelope.msg_id not in self._result_types:
                reason = "a response to no request of the server's"
                raise Rejected(INVALID_REQUEST, reason, envelope.msg_id, answered=False)
            result_type = self._result_types.pop(envelope.msg_id)
            if "error" in message:
                return types.ResponseErrorMessage, None
            if result_type is not None:
                return result_type, None
            return JsonRPCResponseMessage, ("id", "jsonrpc", "result")
        assert envelope.method is not None
        lsp_type = self.get_message_type(envelope.method)
        if lsp_type is not None:
            return lsp_type, None
        if envelope.kind is Kind.REQUEST:
            return JsonRPCRequestMessage, ("id", "method", "jsonrpc", "params")
        return JsonRPCNotification, ("method", "jsonrpc", "params")

    def _invalid(self, envelope: Envelope, exc: Exception) -> Rejected:
        found = problems(exc)
        details = "; ".join(found[:3]) + (f"; {len(found) - 3} more" if len(found) > 3 else "")
        if envelope.kind is Kind.RESPONSE and envelope.msg_id is not None:
            reason = f"unreadable response: {details}"
            # The request it answers fails with the reason instead of waiting forever.
            error = types.ResponseError(code=INVALID_PARAMS, message=reason)
            self._handle_response(envelope.msg_id, None, error)
            return Rejected(INVALID_PARAMS, reason, envelope.msg_id, answered=False)
        reason = f"invalid params for {envelope.method}: {details}"
        answered = envelope.kind is Kind.REQUEST
        return Rejected(INVALID_PARAMS, reason, envelope.msg_id, answered)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        self._exited = True
        yield from super().lsp_exit(*args)

    def _send_data(self, data: Any) -> None:
        # ``exit`` closes the output; what the model thread or a timer sends after it (a
        # status, a log line) would fail, and pygls logs each failure, which sends a log line.
        if not self._exited:
            super()._send_data(data)

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        _COMMAND.set(CommandRequest(self.msg_id, params.work_done_token))
        return (yield from super().lsp_workspace__execute_command(params))

    def on_cancel_request(self, msg_id: Any, callback: Callable[[], object]) -> None:
        """Run ``callback`` when the client cancels request ``msg_id`` ($/cancelRequest)."""
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(lambda f: f.cancelled() and callback())

    def use_workspace(self, workspace: Workspace) -> None:
        """Replace the workspace pygls made on ``initialize`` (before any document opens)."""
        self._workspace = workspace
