"""The self-evolve plumbing that needs no server: targets, edits, arguments, messages."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import PositionCodec

from evolution.evolve import ErrorInfo, EvolveResult
from server import rpc
from server.documents import LineDocument
from server.selfevolve import messages
from server.selfevolve.request import is_python
from server.selfevolve.target import Target, client_range, workspace_edit
from server.settings import client_options, parse_settings

FUNCTION = ("def mean(values):", "    return sum(values) / len(values)")


def test_a_target_is_found_where_it_was_or_moved_as_a_whole():
    target = Target(2, FUNCTION, replace=True)
    lines = ["import math", "", *FUNCTION, ""]
    assert target.locate(lines) == 2
    assert target.locate(["import os", *lines]) == 3  # a line added above
    assert target.locate(["import math", "", FUNCTION[0], "    return 0"]) is None  # changed
    assert target.locate([*lines, *FUNCTION]) == 2  # still at its place
    assert target.locate(["", "", "x", *FUNCTION, *FUNCTION]) is None  # two copies: ambiguous
    assert target.original == "\n".join(FUNCTION)
    assert target.span(3) == ((3, 0), (4, len(FUNCTION[1])))


def test_an_insertion_goes_after_its_anchor():
    target = Target(0, ("# write add",), replace=False)
    assert target.original == ""
    assert target.span(4) == ((4, 11), (4, 11))


def test_ranges_go_to_the_client_in_utf16_and_edits_are_versioned_when_supported():
    lines = ["x = '😀'  # 平均\n"]
    span = client_range(PositionCodec(), lines, ((0, 0), (0, 14)))
    assert span.end == types.Position(line=0, character=15)  # the emoji is 2 UTF-16 units
    versioned = workspace_edit("file:///a.py", 7, span, "y", document_changes=True)
    [change] = versioned.document_changes or ()
    assert isinstance(change, types.TextDocumentEdit) and change.text_document.version == 7
    plain = workspace_edit("file:///a.py", 7, span, "y", document_changes=False)
    assert plain.changes == {"file:///a.py": [types.TextEdit(range=span, new_text="y")]}


@pytest.mark.parametrize(
    ("raw", "settings", "options"),
    [
        ({"clientUi": True, "model": "m"}, {"model": "m"}, {"clientUi": True}),
        (
            {"evoselfcode": {"clientUi": True, "device": "cpu"}},
            {"device": "cpu"},
            {"clientUi": True},
        ),
        ({"model": "m"}, {"model": "m"}, {}),
        (None, None, {}),
    ],
)
def test_client_options_are_not_settings(raw, settings, options):
    rest, found = client_options(raw)
    assert found == options
    parsed = parse_settings(rest)
    assert parsed.problems == []  # clientUi is never reported as an unknown setting
    if settings:
        assert set(parsed.changed) == set(settings)


def test_command_arguments_are_checked():
    assert rpc.span({"position": {"line": 1, "character": 2}})[0] == types.Position(
        line=1, character=2
    )
    for bad in (
        {},
        {"position": {"line": -1, "character": 0}},
        {"position": {"line": True, "character": 0}},
        {"range": {"start": {"line": 3, "character": 0}, "end": {"line": 1, "character": 0}}},
        {"range": "0:0-1:0"},
    ):
        with pytest.raises(ValueError):
            rpc.span(bad)
    with pytest.raises(JsonRpcInvalidParams):
        rpc.command_argument(("a", "b"), "usage")
    assert rpc.command_argument((), "usage") == {}


def test_python_documents_are_known_by_language_or_suffix():
    assert is_python(LineDocument("file:///x/a.txt", "", language_id="python"))
    assert not is_python(LineDocument("file:///x/a.py", "", language_id="markdown"))
    assert is_python(LineDocument("file:///x/a.pyi", ""))
    assert not is_python(LineDocument("untitled:Untitled-1", ""))


def test_a_refused_key_says_how_to_set_one():
    error = ErrorInfo(
        "generator", "AuthenticationError", "generator at http://h/v1 refused the API key"
    )
    result = EvolveResult(
        id="1", status="error", instruction=None, location=None, reason="x", error=error
    )
    text = messages.error_message(result)
    assert text.startswith(error.message)
    assert '"EvoSelfCode: Set API key"' in text and "EVOSELFCODE_VERIFIER_API_KEY" in text
    down = ErrorInfo("generator", "EndpointUnreachable", "generator unreachable at http://h/v1")
    result = EvolveResult(
        id="2", status="error", instruction=None, location=None, reason="x", error=down
    )
    assert messages.error_message(result) == down.message
