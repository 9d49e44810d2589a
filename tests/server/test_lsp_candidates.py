"""Several candidates end to end: one prefill, several distinct inline items, the first the
usual suggestion.

The model is the endless smoke model (RANDOM WEIGHTS): each completion is one junk line in a
comment, where junk is valid Python. Its logits are nearly flat, so sampled candidates are
random text and differ from each other and from the greedy one.
"""

from __future__ import annotations

import pytest
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

SOURCE = "def area(width, height):\n    # compute the area: \n    return width * height\n"
LINE, END = 1, len("    # compute the area: ")
CANDIDATES = 4


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    settings = {
        "model": str(endless_model_dir),
        "device": "cpu",
        "logLevel": "debug",
        # No time box and a generous limit: on a busy machine either could end one of the
        # runs this test compares early, at another length than the other.
        "completion": {
            "debounceMs": 0,
            "maxTokens": 16,
            "prefetch": False,
            "timeBoxMs": 0,
            "timeoutMs": 60000,
        },
    }
    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "shapes", settings):
        yield


async def set_candidates(client: LanguageClient, n: int) -> None:
    client.set_configuration({"completion": {"candidates": n}}, section="evoselfcode")
    mark = len(client.log_messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for(
        lambda: any("candidates" in m.message for m in client.log_messages[mark:]),
        what="the candidates setting",
    )


def totals(completions: dict) -> tuple[float, float]:
    """Prompt tokens and prefilled tokens of every model run so far (from the means)."""
    runs = completions["generated"]
    prompt = (completions["meanPromptTokens"] or 0) * runs
    return prompt, (completions["meanPrefilledTokens"] or 0) * runs


async def test_candidates_come_from_one_prefill_as_distinct_items(client):
    workspace = client.workspace_dir  # type: ignore[attr-defined]
    single_uri, many_uri = (workspace / "one.py").as_uri(), (workspace / "many.py").as_uri()
    open_document(client, single_uri, SOURCE)
    open_document(client, many_uri, SOURCE)
    single = await client.text_document_inline_completion_async(
        inline_params(single_uri, LINE, END)
    )
    assert len(single.items) == 1

    await set_candidates(client, CANDIDATES)
    try:
        before = (await status_now(client))["completions"]
        many = await client.text_document_inline_completion_async(
            inline_params(many_uri, LINE, END)
        )
        after = (await status_now(client))["completions"]
        texts = [item.insert_text for item in many.items]
        assert 2 <= len(texts) <= CANDIDATES and len(set(texts)) == len(texts)
        assert texts[0] == single.items[0].insert_text  # the first is the greedy suggestion
        cursor = types.Position(line=LINE, character=END)
        assert all(item.range == types.Range(start=cursor, end=cursor) for item in many.items)
        assert after["generated"] == before["generated"] + 1  # one model run
        prompt_before, prefilled_before = totals(before)
        prompt_after, prefilled_after = totals(after)
        prompt, prefilled = prompt_after - prompt_before, prefilled_after - prefilled_before
        assert prompt > 20
        assert prefilled < 1.5 * prompt  # the prompt went through the model once, not 4 times

        again = await client.text_document_inline_completion_async(
            inline_params(many_uri, LINE, END)
        )
        assert [item.insert_text for item in again.items] == texts  # all of them cached
    finally:
        await set_candidates(client, 1)
