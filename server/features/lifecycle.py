"""initialize, initialized, configuration changes and shutdown.

``initialize`` only records settings and capabilities (no torch import): it answers at
once. The model starts loading on ``initialized``, after the client has its answer, so the
first ``evoselfcode/status`` ("loading") reaches a client that is ready for it; the last stored
evaluation is read into the status then too.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from server.documents import LineWorkspace
from server.features import fallback_completion
from server.server import EvoServer

log = logging.getLogger(__name__)


def register(server: EvoServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: EvoServer, params: types.InitializeParams) -> None:
        ls.attach_loop()
        workspace = ls.workspace  # pygls made it just now; hold documents as lines instead
        ls.protocol.use_workspace(
            LineWorkspace(
                workspace.root_uri,
                types.TextDocumentSyncKind.Incremental,
                list(workspace.folders.values()),
                workspace.position_encoding,
            )
        )
        ls.apply_settings(params.initialization_options)
        text_document = params.capabilities.text_document
        if text_document is None or text_document.inline_completion is None:
            # No inline completions in this client: offer the infill as a completion item.
            fallback_completion.register(ls)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: EvoServer, params: types.InitializedParams) -> None:
        await ls.pull_settings()
        ls.session_started = True
        ls.host.apply(ls.settings)
        ls.show_last_evaluation()
        ls.spawn(ls.auto_train.start())

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: EvoServer, params: types.DidChangeConfigurationParams
    ) -> None:
        workspace = ls.client_capabilities.workspace
        if workspace is not None and workspace.configuration:
            await ls.pull_settings()
        else:
            ls.apply_settings(params.settings)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: EvoServer, params: None) -> None:
        ls.stop()
