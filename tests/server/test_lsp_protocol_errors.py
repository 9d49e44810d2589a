"""Malformed traffic gets proper JSON-RPC errors and never stops the server.

Sent with a bare JSON-RPC client (tests/server/rawlsp.py) so the bytes are exactly what a
broken or hostile client would send.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.server.rawlsp import RawClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

INVALID_PARAMS, METHOD_NOT_FOUND, REQUEST_FAILED = -32602, -32601, -32803


async def assert_still_serving(raw: RawClient) -> None:
    response = await raw.request("workspace/executeCommand", {"command": "evoselfcode.status"})
    assert response["result"]["state"] in ("loading", "ready", "failed")


async def test_wrong_parameter_types_get_invalid_params(raw):
    response = await raw.request(
        "textDocument/inlineCompletion",
        {"textDocument": {"uri": 5}, "position": {"line": "x", "character": -1}},
    )
    assert response["error"]["code"] == INVALID_PARAMS
    assert "textDocument/inlineCompletion" in response["error"]["message"]
    await assert_still_serving(raw)


async def test_an_unknown_method_gets_method_not_found(raw):
    response = await raw.request("textDocument/noSuchThing", {})
    assert response["error"]["code"] == METHOD_NOT_FOUND
    await assert_still_serving(raw)


async def test_malformed_json_and_bad_notifications_are_survived(raw):
    raw.send_bytes(b'{"jsonrpc": "2.0", "id": 99, "method": ')
    raw.notify("textDocument/didOpen", {"textDocument": 5})
    raw.notify("textDocument/didChange", {"textDocument": {"uri": "file:///x.py"}})
    raw.notify("workspace/didChangeConfiguration", {"settings": {"evoselfcode": "garbage"}})
    await assert_still_serving(raw)


async def test_bad_command_arguments_say_what_is_expected(raw):
    response = await raw.request(
        "workspace/executeCommand",
        {"command": "evoselfcode.generateFromInstruction", "arguments": [{"nope": 1}]},
    )
    assert response["error"]["code"] == INVALID_PARAMS
    assert "uri" in response["error"]["message"]
    response = await raw.request(
        "workspace/executeCommand",
        {
            "command": "evoselfcode.generateFromInstruction",
            "arguments": [
                {"uri": "file:///never/opened.py", "position": {"line": 0, "character": 0}}
            ],
        },
    )
    assert response["error"]["code"] == REQUEST_FAILED
    assert "not open" in response["error"]["message"]
    response = await raw.request("workspace/executeCommand", {"command": "evoselfcode.nothing"})
    assert "error" in response
    await assert_still_serving(raw)


async def test_a_missing_model_fails_with_a_reason_and_completions_say_so(raw):
    def failed():
        return [
            n
            for n in raw.notifications
            if n["method"] == "evoselfcode/status" and n["params"]["state"] == "failed"
        ]

    async def poll():
        while not failed():
            await raw.request("workspace/executeCommand", {"command": "evoselfcode.status"})
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), 120)
    status = failed()[-1]["params"]
    assert status["reason"]
    pops = [n for n in raw.notifications if n["method"] == "window/showMessage"]
    assert len(pops) == 1 and "could not load" in pops[0]["params"]["message"]
    raw.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": "file:///w/a.py",
                "languageId": "python",
                "version": 1,
                "text": "x = 1\n",
            }
        },
    )
    response = await raw.request(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": "file:///w/a.py"},
            "position": {"line": 0, "character": 5},
            "context": {"triggerKind": 1},
        },
    )
    assert response["result"]["items"] == []
    status = await raw.request("workspace/executeCommand", {"command": "evoselfcode.status"})
    assert status["result"]["completions"]["empty"]["model-failed"] >= 1


async def test_a_client_that_hangs_up_mid_request_does_not_leave_the_server_running(
    endless_model_dir, tmp_path
):
    client = await RawClient.start()
    try:
        await client.initialize(
            {
                "model": str(endless_model_dir),
                "device": "cpu",
                "dataDir": str(tmp_path),
                "logLevel": "debug",
                "completion": {"debounceMs": 0, "maxTokens": 2048, "timeoutMs": 60000},
            }
        )

        def ready():
            return any(
                n["method"] == "evoselfcode/status" and n["params"]["state"] == "ready"
                for n in client.notifications
            )

        async def poll(check):
            while not check():
                await client.request("workspace/executeCommand", {"command": "evoselfcode.status"})
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(ready), 120)
        uri = "file:///w/long.py"
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "# x\n"}},
        )
        client.send(
            {
                "id": "long",
                "method": "textDocument/inlineCompletion",
                "params": {
                    "textDocument": {"uri": uri},
                    "position": {"line": 0, "character": 3},
                    "context": {"triggerKind": 1},
                },
            }
        )

        def generating():
            return any(
                n["method"] == "window/logMessage" and "generating for" in n["params"]["message"]
                for n in client.notifications
            )

        await asyncio.wait_for(poll(generating), 60)
        assert client.process.stdin is not None
        client.process.stdin.close()
        await asyncio.wait_for(client.process.wait(), 30)
    finally:
        await client.close()
