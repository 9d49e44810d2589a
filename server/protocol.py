"""pygls protocol tweaks: malformed requests, Copilot's ``formattingOptions``, command requests.

pygls logs a request whose params do not match the LSP types and never answers it, so the
client waits forever. ``EvoProtocol`` answers it with a JSON-RPC ``InvalidParams`` error that
names the method. The inline-completion params also keep ``formattingOptions`` when a client
sends them (Copilot's language-server protocol does; LSP 3.18 has no field for it), so
suggestions can follow the editor's tabs-or-spaces setting.

Command handlers get only the command's arguments. ``current_command()`` gives them the rest
of the request: its id and the client's ``workDoneToken``. pygls runs a command handler under
an id of its own, so ``$/cancelRequest`` only answers the request as cancelled and the handler
keeps running; ``on_cancel_request`` lets a long command stop too (self-evolve stops its HTTP
requests).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import attrs
from cattrs import Converter
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method
from pygls.workspace import Workspace

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


@attrs.define
class InlineCompletionParamsWithFormatting(types.InlineCompletionParams):
    formatting_options: types.FormattingOptions | None = None


def converter_factory() -> Converter:
    converter = default_converter()
    # Fetch the subclass hook first: registering the base hook before would make the
    # subclass dispatch to it and recurse.
    hook = converter.get_structure_hook(InlineCompletionParamsWithFormatting)
    converter.register_structure_hook(
        types.InlineCompletionParams,
        lambda obj, _: hook(obj, InlineCompletionParamsWithFormatting),
    )
    return converter


class _Answered:
    """Marker for a message already answered with an error; ``handle_message`` skips it."""

    jsonrpc = "answered"


ANSWERED = _Answered()


class EvoProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" not in data or "method" not in data:
                raise
            method = data.get("method")
            log.warning("invalid params for %s (request %s): %s", method, data["id"], exc)
            error = JsonRpcInvalidParams(f"invalid params for {method}").to_response_error()
            self._send_response(data["id"], error=error)
            return ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is ANSWERED:
            return
        super().handle_message(message)

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
