"""The time box and prefetching end to end: pytest-lsp drives ``evoselfcode serve`` over stdio.

The model is the scripted smoke model (``scripted_model.py``): greedy decoding writes
``total = count + 1`` on line after line, so a completion in an empty function body is
several whole lines, the same every time. The tests share one server and ask in documents of
their own; each counts what it caused from the status before and after.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.server.conftest import (
    SERVER,
    inline_params,
    open_document,
    ready_session,
    status_now,
    wait_for,
)
from tests.server.scripted_model import build_scripted_model

pytestmark = pytest.mark.asyncio(loop_scope="module")

LINE = "total = count + 1"
SOURCE = "def tally(count):\n    \n"
CURSOR = types.Position(line=1, character=4)


@pytest.fixture(scope="module")
def scripted_model_dir(smoke_model_dir, tmp_path_factory):
    target = tmp_path_factory.mktemp("models") / "scripted"
    build_scripted_model(smoke_model_dir, target, LINE + "\n    ")
    return target


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, scripted_model_dir, tmp_path_factory):
    settings = {
        "model": str(scripted_model_dir),
        "device": "cpu",
        "logLevel": "debug",
        "completion": {
            "debounceMs": 0,
            "maxTokens": 20,
            "timeBoxMs": 0,
            "prefetch": True,
            "timeoutMs": 60000,  # a busy machine must not cut a compared run short
        },
    }
    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "tally", settings):
        yield


def uri_of(client: LanguageClient, name: str) -> str:
    return (client.workspace_dir / name).as_uri()  # type: ignore[attr-defined]


async def change_settings(client: LanguageClient, completion: dict, key: str) -> None:
    """Set ``completion`` settings and wait until the server took in ``key``."""
    client.set_configuration({"completion": completion}, section="evoselfcode")
    mark = len(client.log_messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for(
        lambda: any(key in m.message for m in client.log_messages[mark:]),
        what=f"the setting {key}",
    )


@pytest_asyncio.fixture(loop_scope="module")
async def time_box_1ms(client):
    """The shortest time box for one test (closed before the first line can end)."""
    await change_settings(client, {"timeBoxMs": 1, "prefetch": False}, "timeBoxMs")
    yield
    await change_settings(client, {"timeBoxMs": 0, "prefetch": True}, "completion.prefetch")


async def suggestion_at(client: LanguageClient, uri: str, position: types.Position) -> str:
    result = await client.text_document_inline_completion_async(
        inline_params(uri, position.line, position.character)
    )
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 1
    text = result.items[0].insert_text
    assert isinstance(text, str)
    return text


async def test_the_time_box_ends_the_suggestion_at_its_first_line_end(client, time_box_1ms):
    boxed_uri, full_uri = uri_of(client, "boxed.py"), uri_of(client, "full.py")
    open_document(client, boxed_uri, SOURCE)
    before = (await status_now(client))["completions"]
    boxed = await suggestion_at(client, boxed_uri, CURSOR)
    after = (await status_now(client))["completions"]
    assert after["timeBoxed"] == before["timeBoxed"] + 1
    assert boxed == LINE  # a whole line, never cut inside it

    await change_settings(client, {"timeBoxMs": 0}, "timeBoxMs")
    open_document(client, full_uri, SOURCE)
    full = await suggestion_at(client, full_uri, CURSOR)
    assert full.split("\n")[0] == boxed and full.count("\n") >= 2  # what the box cut off
    assert (await status_now(client))["completions"]["timeBoxed"] == after["timeBoxed"]


def insert(client: LanguageClient, uri: str, version: int, at: types.Position, text: str):
    """Type ``text`` at ``at`` (as accepting a suggestion does); return the cursor after it."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text=text
                )
            ],
        )
    )
    lines = text.split("\n")
    if len(lines) == 1:
        return types.Position(line=at.line, character=at.character + len(text))
    return types.Position(line=at.line + len(lines) - 1, character=len(lines[-1]))


async def test_accepting_a_suggestion_is_answered_by_its_prefetch(client):
    uri = uri_of(client, "accepted.py")
    open_document(client, uri, SOURCE)
    start = (await status_now(client))["completions"]
    first = await suggestion_at(client, uri, CURSOR)
    stored = await wait_for(
        lambda: next(
            (
                s["completions"]
                for s in client.statuses[::-1]
                if s["completions"]["prefetch"]["stored"] > start["prefetch"]["stored"]
            ),
            None,
        ),
        what="the prefetch of the accepted suggestion",
    )
    assert stored["prefetch"]["started"] > start["prefetch"]["started"]
    before = (await status_now(client))["completions"]

    cursor = insert(client, uri, 2, CURSOR, first)  # the user accepts the suggestion
    following = await suggestion_at(client, uri, cursor)
    assert following.strip()
    after = (await status_now(client))["completions"]
    assert after["cacheHits"] == before["cacheHits"] + 1
    assert after["generated"] == before["generated"]  # no model call: the prefetch answered
    assert after["prefetch"]["used"] == before["prefetch"]["used"] + 1

    typed = following[:2]  # typing on through the prefetched suggestion
    rest = await suggestion_at(client, uri, insert(client, uri, 3, cursor, typed))
    assert rest == following[2:]
    final = (await status_now(client))["completions"]
    assert final["generated"] == before["generated"]
    assert final["prefetch"]["used"] == after["prefetch"]["used"]  # one prefetch, used once


async def test_a_new_request_cancels_a_running_prefetch_and_nothing_is_stored(client):
    await change_settings(client, {"maxTokens": 400}, "maxTokens")  # a prefetch that runs long
    try:
        uri, other = uri_of(client, "busy.py"), uri_of(client, "elsewhere.py")
        open_document(client, uri, SOURCE)
        open_document(client, other, SOURCE.replace("tally", "count_up"))
        before = (await status_now(client))["completions"]
        await suggestion_at(client, uri, CURSOR)  # its prefetch starts now
        await suggestion_at(client, other, CURSOR)  # a real request: the prefetch must go
        after = await wait_for(
            lambda: next(
                (
                    s["completions"]
                    for s in client.statuses[::-1]
                    if s["completions"]["prefetch"]["cancelled"] > before["prefetch"]["cancelled"]
                ),
                None,
            ),
            what="the cancelled prefetch",
        )
        assert after["prefetch"]["started"] >= before["prefetch"]["started"] + 1
    finally:
        await change_settings(client, {"maxTokens": 20}, "maxTokens")
