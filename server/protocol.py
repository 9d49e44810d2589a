"""pygls protocol tweaks: answer malformed requests, and read Copilot's ``formattingOptions``.

pygls logs a request whose params do not match the LSP types and never answers it, so the
client waits forever. ``EvoProtocol`` answers it with a JSON-RPC ``InvalidParams`` error that
names the method. The inline-completion params also keep ``formattingOptions`` when a client
sends them (Copilot's language-server protocol does; LSP 3.18 has no field for it), so
suggestions can follow the editor's tabs-or-spaces setting.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from cattrs import Converter
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, default_converter
from pygls.workspace import Workspace

log = logging.getLogger(__name__)


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

    def use_workspace(self, workspace: Workspace) -> None:
        """Replace the workspace pygls made on ``initialize`` (before any document opens)."""
        self._workspace = workspace
