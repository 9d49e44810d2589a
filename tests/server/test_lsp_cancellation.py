"""Cancellation reaches inside generation: ``$/cancelRequest`` and a newer request both stop
a long generation part-way (the endless smoke model, RANDOM WEIGHTS, would otherwise write
all 2048 tokens)."""

from __future__ import annotations

import asyncio
import re

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

from tests.server.conftest import (
    SERVER,
    initialize,
    inline_params,
    open_document,
    record_status,
    status_now,
    wait_for,
    wait_for_state,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_TOKENS = 2048
SOURCE = "def slow():\n    # a long note: \n    # another note: \n    pass\n"
GENERATED = re.compile(r"generated (\d+) tokens \((\w+)\)")


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    statuses = record_status(lsp_client)
    workspace = tmp_path_factory.mktemp("ws") / "cancel"
    await initialize(
        lsp_client,
        workspace,
        {
            "model": str(endless_model_dir),
            "device": "cpu",
            "logLevel": "debug",
            "completion": {"debounceMs": 0, "maxTokens": MAX_TOKENS, "timeoutMs": 60000},
        },
    )
    await wait_for_state(statuses, "ready")
    lsp_client.doc_uri = (workspace / "slow.py").as_uri()  # type: ignore[attr-defined]
    open_document(lsp_client, lsp_client.doc_uri, SOURCE)  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def log_lines(client: LanguageClient, pattern: str, start: int = 0) -> list[str]:
    return [m.message for m in client.log_messages[start:] if pattern in m.message]


async def start_long_request(client: LanguageClient, line: int, msg_id: str):
    """Send a completion request and wait until its generation is under way."""
    mark = len(client.log_messages)
    params = inline_params(client.doc_uri, line, len(SOURCE.splitlines()[line]))
    request = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
        )
    )
    await wait_for(lambda: log_lines(client, "generating for", mark), what="generation start")
    return request, mark


async def finished_generations(client: LanguageClient, mark: int, count: int) -> list[tuple]:
    def found():
        hits = [GENERATED.search(m) for m in log_lines(client, "generated", mark)]
        hits = [(int(h.group(1)), h.group(2)) for h in hits if h]
        return hits if len(hits) >= count else None

    return await wait_for(found, what=f"{count} finished generation(s)")


async def test_cancel_request_stops_the_generation_within_a_few_tokens(client):
    request, mark = await start_long_request(client, 1, "long-cancelled")
    await asyncio.sleep(0.2)  # some tokens in
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="long-cancelled"))
    with pytest.raises(JsonRpcRequestCancelled):
        await request
    [(tokens, finish)] = await finished_generations(client, mark, 1)
    assert finish == "cancelled"
    assert tokens < MAX_TOKENS
    status = await status_now(client)
    assert status["completions"]["empty"]["cancelled"] >= 1


async def test_a_newer_request_for_the_same_document_supersedes_the_running_one(client):
    older, mark = await start_long_request(client, 1, "older")
    newer, _ = await start_long_request(client, 2, "newer")
    result = await asyncio.wait_for(older, 60)
    assert result.items == ()
    [(tokens, finish), *_] = await finished_generations(client, mark, 1)
    assert finish == "cancelled"
    assert tokens < MAX_TOKENS
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="newer"))
    with pytest.raises(JsonRpcRequestCancelled):
        await newer
    status = await status_now(client)
    assert status["completions"]["empty"]["superseded"] >= 1


async def test_after_cancellations_a_short_request_is_served(client):
    client.set_configuration({"completion": {"maxTokens": 8}}, section="evoselfcode")
    mark = len(client.log_messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for(
        lambda: log_lines(client, "evoselfcode.completion.maxTokens", mark), what="settings pulled"
    )
    result = await client.text_document_inline_completion_async(
        inline_params(client.doc_uri, 2, len(SOURCE.splitlines()[2]))
    )
    assert len(result.items) == 1
    assert log_lines(client, "at most 8 new tokens", mark)
    assert (await status_now(client))["state"] == "ready"
