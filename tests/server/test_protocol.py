"""The converter: strict about JSON types, and keeps Copilot-style ``formattingOptions``."""

from __future__ import annotations

import pytest
from lsprotocol import types

from server.converter import converter_factory


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


def test_a_value_of_the_wrong_json_type_fails_instead_of_being_converted():
    converter = converter_factory()
    good = {
        "textDocument": {"uri": "file:///a.py"},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [], "only": ["refactor"]},
    }
    assert converter.structure(good, types.CodeActionParams).context.only == ("refactor",)
    wrong = [
        ("context", "only", [42]),  # lsprotocol's own hook lets any number through here
        ("context", "only", [None]),
        ("textDocument", "uri", 5),  # cattrs would make it "5"
        ("textDocument", "uri", None),  # ... and this "None"
    ]
    for outer, key, value in wrong:
        params = {**good, outer: {**good[outer], key: value}}
        with pytest.raises(Exception, match="CodeActionParams"):
            converter.structure(params, types.CodeActionParams)
    for line in ("1", True, 1.0):  # cattrs would take each as 1
        position = {"line": line, "character": 0}
        with pytest.raises(Exception, match="Position"):
            converter.structure(position, types.Position)
    options = {"tabSize": 4, "insertSpaces": "false"}  # cattrs: bool("false") is True
    with pytest.raises(Exception, match="FormattingOptions"):
        converter.structure(options, types.FormattingOptions)


def test_integers_and_strings_both_stay_where_either_is_allowed():
    converter = converter_factory()
    for token in (7, "seven"):
        params = converter.structure(
            {"command": "x", "arguments": [1, {"jsonrpc": "2.0"}], "workDoneToken": token},
            types.ExecuteCommandParams,
        )
        assert params.work_done_token == token
        assert params.arguments == (1, {"jsonrpc": "2.0"})
    item = {"uri": "file:///a.py", "languageId": "python", "version": 1, "text": ""}
    assert converter.structure(item, types.TextDocumentItem).language_id == "python"
    with pytest.raises(Exception, match="TextDocumentItem"):
        converter.structure({**item, "languageId": 42}, types.TextDocumentItem)
