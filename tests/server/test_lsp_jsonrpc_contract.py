"""Every request gets exactly one answer, whatever its params hold (issue 19's reproductions).

Sent with a bare JSON-RPC client (tests/server/rawlsp.py): the bytes are exactly what a
broken or hostile client would send. Each test ends with a ``status`` request: the server
answers messages in the order it reads them, so once that answer is in, an answer to any
earlier message would have arrived too.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.server.rawlsp import RawClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
URI = "file:///w/never-opened.py"
HARMLESS = "textDocument/noSuchThing"  # let through by mistake, it would do nothing
RANGE = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}


async def status(raw: RawClient) -> dict:
    response = await raw.request("workspace/executeCommand", {"command": "evoselfcode.status"})
    return response["result"]


async def answers_after_sync(raw: RawClient, msg_id) -> list[dict]:
    """The answers to ``msg_id`` once every earlier message has been answered."""
    await status(raw)
    return raw.answers(msg_id)


def code_action(context: dict) -> dict:
    return {"textDocument": {"uri": URI}, "range": RANGE, "context": context}


async def test_params_holding_a_jsonrpc_key_are_answered(raw):
    response = await raw.request(
        "workspace/executeCommand",
        {"command": "evoselfcode.status", "arguments": [{"jsonrpc": "x"}]},
    )
    assert response["result"]["state"] in ("loading", "ready", "failed")
    diagnostic = {"range": RANGE, "message": "m", "data": {"jsonrpc": "2.0"}}
    response = await raw.request(
        "textDocument/codeAction", code_action({"diagnostics": [diagnostic]})
    )
    assert response["result"] == []


async def test_objects_nested_in_params_are_never_answered_as_requests(raw):
    msg_id = raw.request_id()
    ghost = {"jsonrpc": "2.0", "id": "ghost", "method": "textDocument/hover", "params": {}}
    twin = {**ghost, "id": msg_id}  # the id of the request that carries it
    raw.send(
        {
            "id": msg_id,
            "method": "workspace/executeCommand",
            "params": {"command": "evoselfcode.status", "arguments": [ghost, twin]},
        }
    )
    answers = await answers_after_sync(raw, msg_id)
    assert len(answers) == 1 and "result" in answers[0]
    assert raw.answers("ghost") == []


async def test_a_code_action_kind_that_is_not_a_string_is_invalid_params(raw):
    response = await raw.request(
        "textDocument/codeAction", code_action({"diagnostics": [], "only": [42]})
    )
    assert response["error"]["code"] == INVALID_PARAMS
    assert "textDocument/codeAction" in response["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc": "2.0", "id": 99, "method": ',
        b'{"jsonrpc": "2.0", "id": 98, "method": "\xff\xfe"}',  # not UTF-8
        b"[" * 100_000,  # nested deeper than the parser recurses
    ],
    ids=["truncated", "not-utf8", "too-deep"],
)
async def test_malformed_json_gets_a_parse_error_with_id_null(raw, body):
    before = len(raw.answers(None))
    raw.send_bytes(body)
    answers = (await answers_after_sync(raw, None))[before:]
    assert [a["error"]["code"] for a in answers] == [PARSE_ERROR]
    assert answers[0]["id"] is None


@pytest.mark.parametrize(
    ("message", "answer_id"),
    [
        ({"jsonrpc": "2.0", "id": 501, "params": {}}, 501),  # no method
        ({"jsonrpc": "2.0", "id": 502, "method": 5}, 502),
        ({"jsonrpc": "2.0", "id": 503, "method": None}, 503),
        ({"jsonrpc": "1.0", "id": 504, "method": HARMLESS}, 504),
        ({"id": 505, "method": HARMLESS}, 505),  # no "jsonrpc"
        ({"jsonrpc": "2.0", "id": [506], "method": HARMLESS}, None),
        ({"jsonrpc": "2.0", "id": 50.7, "method": HARMLESS}, None),
        ({"jsonrpc": "2.0", "id": True, "method": HARMLESS}, None),
        ({"jsonrpc": "2.0", "id": None, "method": HARMLESS}, None),
        ({"jsonrpc": "2.0", "method": 7, "params": "bar"}, None),  # JSON-RPC 2.0's example
        ([{"jsonrpc": "2.0", "id": 508, "method": HARMLESS}], None),  # LSP has no batches
        ("shutdown", None),
    ],
)
async def test_envelope_errors_get_invalid_request(raw, message, answer_id):
    before = len(raw.answers(answer_id))
    raw.send_bytes(json.dumps(message).encode())
    answers = (await answers_after_sync(raw, answer_id))[before:]
    assert [a["error"]["code"] for a in answers] == [INVALID_REQUEST]


async def test_responses_and_notifications_are_never_answered(raw):
    before = len(raw.received)
    raw.send({"id": "not-ours", "result": 1})
    raw.send({"id": "not-ours-either", "error": {"code": 1, "message": "x"}})
    raw.send({"id": [1], "result": 1})  # a response with an unusable id: logged only
    raw.notify("textDocument/didOpen", {"textDocument": 5})
    raw.notify("evoselfcode/noSuchNotification", {"jsonrpc": "2.0", "id": "ghost"})
    await status(raw)
    assert [a["id"] for a in raw.received[before:]] == [raw.received[-1]["id"]]


async def test_unknown_methods_and_commands(raw):
    response = await raw.request("textDocument/noSuchThing", {"jsonrpc": "2.0"})
    assert response["error"]["code"] == METHOD_NOT_FOUND
    response = await raw.request("workspace/executeCommand", {"command": "evoselfcode.nothing"})
    assert response["error"]["code"] == INVALID_PARAMS


async def test_rejected_messages_are_counted_and_logged_in_one_line(raw):
    def rejection_lines() -> list[str]:
        return [
            n["params"]["message"]
            for n in raw.notifications
            if n["method"] == "window/logMessage" and "rejected" in n["params"]["message"]
        ]

    counted, logged = (await status(raw))["rejectedMessages"], len(rejection_lines())
    raw.send_bytes(b"{not json")
    raw.send({"id": raw.request_id(), "method": 5})
    raw.send({"id": raw.request_id(), "method": "textDocument/codeAction", "params": {"x": 1}})
    raw.notify("textDocument/didOpen", {"textDocument": 5})
    assert (await status(raw))["rejectedMessages"] == counted + 4
    await raw.read_until(lambda: len(rejection_lines()) >= logged + 4, timeout=10)
    await asyncio.sleep(0.2)  # a second line per message would come right behind the first
    new = rejection_lines()[logged:]
    assert len(new) == 4 and all("\n" not in line for line in new), new
    assert "Traceback" not in raw.stderr_text(tail=None)


async def test_requests_after_shutdown_get_invalid_request_and_exit_is_clean(tmp_path):
    client = await RawClient.start()
    try:
        await client.initialize({"model": str(tmp_path / "no-model")})
        assert (await client.request("shutdown"))["result"] is None
        response = await client.request(
            "workspace/executeCommand", {"command": "evoselfcode.status"}
        )
        assert response["error"]["code"] == INVALID_REQUEST
        assert len(client.answers(response["id"])) == 1
        client.notify("textDocument/didOpen", {"textDocument": 5})  # ignored, never answered
        client.notify("exit")
        assert await asyncio.wait_for(client.process.wait(), 30) == 0
        assert "Traceback" not in client.stderr_text(tail=None)
    finally:
        await client.close()
