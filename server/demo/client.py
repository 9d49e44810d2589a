"""The demo's editor: a plain pygls LSP client driving ``python -m server serve`` over stdio.

It does what any editor does: answers ``window/workDoneProgress/create`` and
``workspace/configuration``, shows ``$/progress`` and the server's messages, and keeps the
custom ``evoselfcode/*`` notifications so the demo can wait for them.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from lsprotocol import types
from pygls.lsp.client import LanguageClient

STATUS = "evoselfcode/status"
EVALUATION_RESULT = "evoselfcode/evaluationResult"
FINETUNE_RESULT = "evoselfcode/finetuneResult"


def plain(value: Any) -> Any:
    """Custom notifications arrive as namedtuples; turn them into dicts and lists."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


class DemoEditor:
    """One language-server session with the notifications it received."""

    def __init__(self, settings: dict[str, Any], say: Callable[[str], None]) -> None:
        self.settings = settings
        self.say = say
        self.client = LanguageClient("evoselfcode-demo", "0.1")
        self.statuses: list[dict[str, Any]] = []
        self.results: dict[str, list[dict[str, Any]]] = {
            EVALUATION_RESULT: [],
            FINETUNE_RESULT: [],
        }
        self._progress_titles: dict[str, str] = {}
        self._register_handlers()

    def _register_handlers(self) -> None:
        client = self.client
        # pygls decodes a CodeAction that carries a command as a bare Command: decode by shape.
        converter = client.protocol._converter
        converter.register_structure_hook(
            Union[types.Command, types.CodeAction],  # noqa: UP007 (the key lsprotocol uses)
            lambda obj, _: converter.structure(
                obj, types.Command if isinstance(obj.get("command"), str) else types.CodeAction
            ),
        )

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create_progress(_ls: LanguageClient, _params: Any) -> None:
            return None

        @client.feature(types.PROGRESS)
        def progress(_ls: LanguageClient, params: types.ProgressParams) -> None:
            self._show_progress(str(params.token), params.value)

        @client.feature(types.WORKSPACE_CONFIGURATION)
        def configuration(_ls: LanguageClient, params: types.ConfigurationParams) -> list[Any]:
            return [
                self.settings if item.section == "evoselfcode" else None for item in params.items
            ]

        @client.feature(types.WINDOW_LOG_MESSAGE)
        def log_message(_ls: LanguageClient, params: types.LogMessageParams) -> None:
            if params.type in (types.MessageType.Error, types.MessageType.Warning):
                self.say(f"  [server] {params.message}")

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def show_message(_ls: LanguageClient, params: types.ShowMessageParams) -> None:
            self.say(f"  [server] {params.message}")

        @client.feature(STATUS)
        def status(_ls: LanguageClient, params: Any) -> None:
            self.statuses.append(plain(params))

        for method in self.results:

            @client.feature(method)
            def result(_ls: LanguageClient, params: Any, method: str = method) -> None:
                self.results[method].append(plain(params))

    def _show_progress(self, token: str, value: Any) -> None:
        """One line redrawn in place on a terminal; nothing in a log (each step sums up)."""
        if not sys.stderr.isatty():
            return
        kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
        get = value.get if isinstance(value, dict) else lambda key: getattr(value, key, None)
        if kind == "begin":
            self._progress_titles[token] = get("title") or ""
        message = get("message")
        if message and kind in ("begin", "report"):
            title = self._progress_titles.get(token, "")
            sys.stderr.write(f"\r  {title}: {message}"[:110].ljust(110))
            sys.stderr.flush()
        if kind == "end":
            sys.stderr.write("\r" + " " * 110 + "\r")
            sys.stderr.flush()

    # --- session -------------------------------------------------------------------------

    async def start(self, workspace: Path) -> None:
        await self.client.start_io(sys.executable, "-m", "server", "serve")
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True),
                    workspace=types.WorkspaceClientCapabilities(configuration=True),
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities()
                    ),
                ),
                root_uri=workspace.as_uri(),
                workspace_folders=[
                    types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)
                ],
                initialization_options=self.settings,
            )
        )
        self.client.initialized(types.InitializedParams())

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 30)
            self.client.exit(None)
        finally:
            await self.client.stop()

    async def wait_until(self, check: Callable[[], Any], timeout_s: float, what: str) -> Any:
        """Poll ``check`` until it returns something truthy, or fail saying ``what``."""

        async def poll() -> Any:
            while not (found := check()):
                await asyncio.sleep(0.05)
            return found

        try:
            return await asyncio.wait_for(poll(), timeout_s)
        except TimeoutError:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}") from None

    async def wait_for_model(self, timeout_s: float) -> dict[str, Any]:
        status = await self.wait_until(
            lambda: next((s for s in self.statuses if s["state"] in ("ready", "failed")), None),
            timeout_s,
            "the model to load",
        )
        if status["state"] == "failed":
            raise RuntimeError(f"the server could not load the model: {status.get('reason')}")
        return status

    async def next_result(self, method: str, count_before: int, timeout_s: float) -> dict:
        return await self.wait_until(
            lambda: len(self.results[method]) > count_before and self.results[method][-1],
            timeout_s,
            method,
        )

    async def command(self, name: str, argument: dict[str, Any] | None = None) -> Any:
        arguments = [argument] if argument is not None else None
        answer = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=arguments)
        )
        return plain(answer)

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=version, text=text
                )
            )
        )

    def replace_text(self, uri: str, text: str, version: int) -> None:
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
