"""Cancellation reaches inside generation: ``$/cancelRequest`` and a newer request both stop
a long generation part-way (the endless smoke model, RANDOM WEIGHTS, would otherwise write
all 2048 tokens).

The tests share one server; each asks in a document of its own (completions are cached per
document), and the one that lowers ``maxTokens`` puts it back. Any order passes.
"""

from __future__ import annotations

import asyncio
import itertools
import re

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

from tests.server.conftest import (
    SERVER,
    inline_params,
    open_document,
    ready_session,
    status_now,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_TOKENS = 2048
SOURCE = "def slow():\n    # a long note: \n    # another note: \n    pass\n"
GENERATED = re.compile(r"generated (\d+) tokens \((\w+)\)")
DOCUMENTS = itertools.count()  # numbers the documents of ``open_slow``


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    settings = {
        "model": str(endless_model_dir),
        "device": "cpu",
        "logLevel": "debug",
        # No prefetch: a background generation would log its own finish among the ones
        # these tests read.
        "completion": {
            "debounceMs": 0,
            "maxTokens": MAX_TOKENS,
            "timeoutMs": 60000,
            "prefetch": False,
        },
    }
    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "cancel", settings):
        yield


def open_slow(client: LanguageClient) -> str:
    """Open a new document with ``SOURCE``; its uri. No answer for it is cached yet."""
    uri = (client.workspace_dir / f"slow-{next(DOCUMENTS)}.py").as_uri()
    open_document(client, uri, SOURCE)
    return uri


def log_lines(client: LanguageClient, pattern: str, start: int = 0) -> list[str]:
    return [m.message for m in client.log_messages[start:] if pattern in m.message]


async def start_long_request(client: LanguageClient, uri: str, line: int, msg_id: str):
    """Send a completion request and wait until its generation is under way."""
    mark = len(client.log_messages)
    params = inline_params(uri, line, len(SOURCE.splitlines()[line]))
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


async def empty_count(client: LanguageClient, reason: str) -> int:
    return (await status_now(client))["completions"]["empty"].get(reason, 0)


async def cancel_a_long_generation(client: LanguageClient, msg_id: str) -> tuple[int, str]:
    """Start a long generation, cancel it with ``$/cancelRequest``; its tokens and finish."""
    request, mark = await start_long_request(client, open_slow(client), 1, msg_id)
    await asyncio.sleep(0.2)  # some tokens in
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcRequestCancelled):
        await request
    [finished] = await finished_generations(client, mark, 1)
    return finished


async def test_cancel_request_stops_the_generation_within_a_few_tokens(client):
    before = await empty_count(client, "cancelled")
    tokens, finish = await cancel_a_long_generation(client, "long-cancelled")
    assert finish == "cancelled"
    assert tokens < MAX_TOKENS
    assert await empty_count(client, "cancelled") == before + 1


async def test_a_newer_request_for_the_same_document_supersedes_the_running_one(client):
    before = await empty_count(client, "superseded")
    uri = open_slow(client)
    older, mark = await start_long_request(client, uri, 1, "older")
    newer, _ = await start_long_request(client, uri, 2, "newer")
    result = await asyncio.wait_for(older, 60)
    assert result.items == ()
    [(tokens, finish), *_] = await finished_generations(client, mark, 1)
    assert finish == "cancelled"
    assert tokens < MAX_TOKENS
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="newer"))
    with pytest.raises(JsonRpcRequestCancelled):
        await newer
    assert await empty_count(client, "superseded") == before + 1


async def change_max_tokens(client: LanguageClient, count: int) -> int:
    """Set ``completion.maxTokens`` and wait until the server took it in; the log mark."""
    client.set_configuration({"completion": {"maxTokens": count}}, section="evoselfcode")
    mark = len(client.log_messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for(
        lambda: log_lines(client, "evoselfcode.completion.maxTokens", mark), what="settings pulled"
    )
    return mark


async def test_after_cancellations_a_short_request_is_served(client):
    tokens, finish = await cancel_a_long_generation(client, "cancelled-first")
    assert finish == "cancelled" and tokens < MAX_TOKENS
    mark = await change_max_tokens(client, 8)
    try:
        uri = open_slow(client)
        result = await client.text_document_inline_completion_async(
            inline_params(uri, 2, len(SOURCE.splitlines()[2]))
        )
        assert len(result.items) == 1
        assert log_lines(client, "at most 8 new tokens", mark)
        assert (await status_now(client))["state"] == "ready"
    finally:
        await change_max_tokens(client, MAX_TOKENS)
