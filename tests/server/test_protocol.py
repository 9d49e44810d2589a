"""The converter keeps Copilot-style ``formattingOptions`` on inline-completion params."""

from __future__ import annotations

from lsprotocol import types

from server.protocol import converter_factory


def test_formatting_options_survive_and_are_optional():
    converter = converter_factory()
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "textDocument/inlineCompletion",
        "params": {
            "textDocument": {"uri": "file:///a.py"},
            "position": {"line": 0, "character": 0},
            "context": {"triggerKind": 2},
            "formattingOptions": {"tabSize": 2, "insertSpaces": False},
        },
    }
    params = converter.structure(message, types.InlineCompletionRequest).params
    assert isinstance(params, types.InlineCompletionParams)
    assert params.formatting_options == types.FormattingOptions(tab_size=2, insert_spaces=False)
    del message["params"]["formattingOptions"]
    params = converter.structure(message, types.InlineCompletionRequest).params
    assert params.formatting_options is None
