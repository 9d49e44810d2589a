"""Inline completions end to end: pytest-lsp drives ``evoselfcode serve`` over stdio.

The model is the endless smoke model (RANDOM WEIGHTS): every completion is one junk line,
so the cursor sits at the end of a comment, where junk is valid Python and survives the
syntax check. Assertions are about plumbing: items, ranges, cache, status, reasons.

The tests share one server; each asks in documents of its own (the cache is per document),
counts what it caused from the status before and after, and the test that turns on the
debounce turns it off again. Any order passes, each test alone too.
"""

from __future__ import annotations

import asyncio

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

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = (
    "import os\n\n\ndef area(width, height):\n    # compute the area: \n    return width * height\n"
)
COMMENT_LINE, COMMENT_END = 4, len("    # compute the area: ")


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    settings = {
        "model": str(endless_model_dir),
        "device": "cpu",
        "logLevel": "debug",
        "completion": {"debounceMs": 0, "maxTokens": 24},
    }
    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "shapes", settings):
        yield


def uri_of(client: LanguageClient, name: str) -> str:
    return (client.workspace_dir / name).as_uri()  # type: ignore[attr-defined]


async def test_initialize_declares_the_features_and_loads_in_the_background(client):
    capabilities = client.init_result.capabilities
    assert capabilities.inline_completion_provider is not None
    assert capabilities.completion_provider is None  # this client has inline completions
    assert capabilities.code_action_provider is not None
    commands = capabilities.execute_command_provider.commands
    assert {"evoselfcode.status", "evoselfcode.generateFromInstruction"} <= set(commands)
    states = [s["state"] for s in client.statuses]
    assert states.index("loading") < states.index("ready")
    ready = next(s for s in client.statuses if s["state"] == "ready")
    assert ready["model"] == "endless"
    assert ready["randomWeights"] is True
    assert ready["device"] == "cpu"
    assert any("RANDOM WEIGHTS" in m.message for m in client.log_messages)


async def test_a_completion_in_a_comment_is_one_clean_line_at_the_cursor(client):
    uri = uri_of(client, "geometry/area.py")
    open_document(client, uri, SOURCE)
    before = (await status_now(client))["completions"]
    result = await client.text_document_inline_completion_async(
        inline_params(uri, COMMENT_LINE, COMMENT_END)
    )
    assert len(result.items) == 1
    item = result.items[0]
    text = item.insert_text
    assert isinstance(text, str) and text.strip()
    assert "\n" not in text and "<|" not in text and text == text.rstrip()
    cursor = types.Position(line=COMMENT_LINE, character=COMMENT_END)
    assert item.range == types.Range(start=cursor, end=cursor)
    status = await status_now(client)
    assert status["completions"]["served"] == before["served"] + 1
    assert status["completions"]["generated"] == before["generated"] + 1
    assert status["latencyMs"]["p50"] is not None


async def test_asking_again_and_typing_through_hit_the_cache(client):
    uri = uri_of(client, "geometry/volume.py")
    open_document(client, uri, SOURCE, version=1)
    first = await client.text_document_inline_completion_async(
        inline_params(uri, COMMENT_LINE, COMMENT_END)
    )
    suggestion = first.items[0].insert_text
    before = (await status_now(client))["completions"]

    again = await client.text_document_inline_completion_async(
        inline_params(uri, COMMENT_LINE, COMMENT_END)
    )
    assert again.items[0].insert_text == suggestion

    typed = suggestion[:3]
    position = types.Position(line=COMMENT_LINE, character=COMMENT_END)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=position, end=position), text=typed
                )
            ],
        )
    )
    rest = await client.text_document_inline_completion_async(
        inline_params(uri, COMMENT_LINE, COMMENT_END + len(typed))
    )
    assert rest.items[0].insert_text == suggestion[3:]
    after = (await status_now(client))["completions"]
    assert after["cacheHits"] == before["cacheHits"] + 2
    assert after["generated"] == before["generated"]  # no model call for either


async def prompt_tokens_of(client: LanguageClient, uri: str) -> float:
    """The prompt size of one (uncached) completion, from the status' running mean."""
    before = (await status_now(client))["completions"]
    await client.text_document_inline_completion_async(
        inline_params(uri, COMMENT_LINE, COMMENT_END)
    )
    after = (await status_now(client))["completions"]
    assert after["generated"] == before["generated"] + 1
    total_before = (before["meanPromptTokens"] or 0) * before["generated"]
    return after["meanPromptTokens"] * after["generated"] - total_before


async def test_other_open_files_of_the_workspace_go_into_the_prompt(client, tmp_path):
    outside = (tmp_path / "loose.py").as_uri()  # in no workspace folder: file-level FIM
    open_document(client, outside, SOURCE.replace("area", "size"))
    alone = await prompt_tokens_of(client, outside)
    helper = uri_of(client, "geometry/units.py")
    open_document(
        client,
        helper,
        "CM_PER_INCH = 2.54\n\ndef to_cm(inches):\n    return inches * CM_PER_INCH\n",
    )
    uri = uri_of(client, "geometry/perimeter.py")
    open_document(client, uri, SOURCE.replace("area", "size"))
    with_others = await prompt_tokens_of(client, uri)
    assert with_others > alone + 15  # the helper file (and the repo header) came along


async def test_every_request_of_a_typing_session_is_answered_with_a_reason(client):
    """Type a line character by character, asking on every keystroke without waiting."""
    uri = uri_of(client, "geometry/typing.py")
    text = "def perimeter(a, b):\n    # "
    open_document(client, uri, text)
    line, column = 1, len("    # ")
    before = await status_now(client)
    pending = []
    for version, char in enumerate("sum of the sides", start=2):
        position = types.Position(line=line, character=column)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=position, end=position), text=char
                    )
                ],
            )
        )
        column += 1
        pending.append(
            asyncio.create_task(
                client.text_document_inline_completion_async(
                    inline_params(uri, line, column, invoked=False)
                )
            )
        )
        await asyncio.sleep(0)  # let the task send its request before the next keystroke
    results = [await request for request in pending]
    assert len(results) == len(pending)
    assert results[-1].items, "the last keystroke's request must be served"
    after = await status_now(client)
    counts, old = after["completions"], before["completions"]
    asked = counts["requests"] - old["requests"]
    assert asked == len(pending)
    answered = (
        (counts["served"] - old["served"])
        + sum(counts["empty"].values())
        - sum(old["empty"].values())
    )
    assert answered == asked  # every request counted once, served or with a reason
    assert counts["empty"].get("superseded", 0) > old["empty"].get("superseded", 0)


async def test_status_notifications_carry_the_counts(client):
    uri = uri_of(client, "geometry/counted.py")
    open_document(client, uri, SOURCE)
    asked = (await status_now(client))["completions"]["requests"]
    seen = len(client.statuses)
    await client.text_document_inline_completion_async(
        inline_params(uri, COMMENT_LINE, COMMENT_END)
    )  # a request of this test, which the next notification counts
    latest = await wait_for(
        lambda: next(
            (s for s in client.statuses[seen:] if s["completions"]["requests"] > asked), None
        ),
        what="a status with completion counts",
    )
    assert set(latest) >= {"state", "model", "completions", "latencyMs", "randomWeights"}
    assert set(latest["completions"]) >= {"requests", "served", "empty", "cacheHits"}


async def change_debounce(client: LanguageClient, debounce_ms: int) -> None:
    """Set ``completion.debounceMs`` and wait until the server took it in."""
    client.set_configuration({"completion": {"debounceMs": debounce_ms}}, section="evoselfcode")
    mark = len(client.log_messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for(
        lambda: any("debounceMs" in m.message for m in client.log_messages[mark:]),
        what="the debounce setting",
    )


@pytest_asyncio.fixture(loop_scope="module")
async def debounce_300ms(client):
    """The debounce on for one test, and off again after it (as the fixture set it)."""
    await change_debounce(client, 300)
    yield
    await change_debounce(client, 0)


async def test_debounce_keeps_only_the_last_of_a_burst_and_an_explicit_request_skips_it(
    client, debounce_300ms
):
    uri = uri_of(client, "geometry/burst.py")
    open_document(client, uri, SOURCE)
    before = (await status_now(client))["completions"]["empty"].get("debounced", 0)

    def automatic():
        return asyncio.create_task(
            client.text_document_inline_completion_async(
                inline_params(uri, COMMENT_LINE, COMMENT_END, invoked=False)
            )
        )

    burst = [automatic() for _ in range(3)]
    results = [await task for task in burst]
    assert [len(r.items) for r in results] == [0, 0, 1]
    # Explicit, then at once a keystroke's automatic request: a debounced explicit request
    # would be dropped for the newer one; it is answered instead.
    explicit = asyncio.create_task(
        client.text_document_inline_completion_async(inline_params(uri, COMMENT_LINE, COMMENT_END))
    )
    await asyncio.sleep(0)
    following = automatic()
    assert len((await explicit).items) == 1
    assert len((await following).items) == 1
    after = (await status_now(client))["completions"]["empty"].get("debounced", 0)
    assert after == before + 2


async def test_a_suggestion_extends_the_intellisense_item_in_focus(client):
    uri = uri_of(client, "geometry/popup.py")
    text = "def f(width):\n    # use wi\n"
    open_document(client, uri, text)
    line, end = 1, len("    # use wi")
    start = types.Position(line=line, character=end - 2)
    cursor = types.Position(line=line, character=end)
    params = inline_params(uri, line, end)
    params.context.selected_completion_info = types.SelectedCompletionInfo(
        range=types.Range(start=start, end=cursor), text="width"
    )
    result = await client.text_document_inline_completion_async(params)
    [item] = result.items
    assert isinstance(item.insert_text, str) and item.insert_text.startswith("width")
    assert len(item.insert_text) > len("width")
    assert item.range == types.Range(start=start, end=cursor)
