"""``textDocument/completion`` for a client without inline completions: one infill item.

The model is the endless smoke model (RANDOM WEIGHTS): the item text is junk; what is checked
is the item's shape, its edit range and that the client's filtering word is kept.
"""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.server.conftest import SERVER, open_document, ready_session

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = "def total(xs):\n    # add up totals\n    return sum(xs)\n"
LINE, COLUMN = 1, len("    # add up totals")


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    workspace = tmp_path_factory.mktemp("ws") / "plain"
    settings = {"model": str(endless_model_dir), "device": "cpu", "completion": {"debounceMs": 0}}
    async with ready_session(lsp_client, workspace, settings, inline=False):
        lsp_client.doc_uri = (workspace / "sums.py").as_uri()  # type: ignore[attr-defined]
        open_document(lsp_client, lsp_client.doc_uri, SOURCE)  # type: ignore[attr-defined]
        yield


async def test_the_fallback_is_declared_only_for_clients_without_inline_completions(client):
    assert client.init_result.capabilities.completion_provider is not None


async def test_one_item_carries_the_infill_with_an_edit_from_the_word_start(client):
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=client.doc_uri),
            position=types.Position(line=LINE, character=COLUMN),
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
        )
    )
    assert isinstance(result, types.CompletionList)
    assert result.is_incomplete  # asked again as the user types; the cache answers
    [item] = result.items
    edit = item.text_edit
    assert isinstance(edit, types.TextEdit)
    word_start = COLUMN - len("totals")
    assert edit.range.start == types.Position(line=LINE, character=word_start)
    assert edit.range.end == types.Position(line=LINE, character=COLUMN)
    assert edit.new_text.startswith("totals") and len(edit.new_text) > len("totals")
    assert "<|" not in edit.new_text
    assert item.filter_text and item.filter_text.startswith("totals")
    assert item.label and "\n" not in item.label
    assert item.insert_text_format == types.InsertTextFormat.PlainText


async def test_an_unknown_document_gets_an_empty_list(client):
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri="file:///nowhere/missing.py"),
            position=types.Position(line=0, character=0),
        )
    )
    assert result.items == ()
