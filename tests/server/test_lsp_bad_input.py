"""Bad documents and positions: empty answers with a reason, and the server keeps serving.

The model is the endless smoke model (RANDOM WEIGHTS); completions at the end of a comment
are served, so a served item proves the server saw the document as the client sent it.
"""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.server.conftest import SERVER, inline_params, open_document, ready_session, status_now

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    settings = {
        "model": str(endless_model_dir),
        "device": "cpu",
        "completion": {"debounceMs": 0, "maxTokens": 8},
    }
    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "bad", settings):
        yield


async def reason_of(client: LanguageClient, params: types.InlineCompletionParams) -> str | None:
    """The reason counted for this (empty) answer, or None when it was served."""
    before = (await status_now(client))["completions"]
    result = await client.text_document_inline_completion_async(params)
    after = (await status_now(client))["completions"]
    if result.items:
        return None
    grown = [r for r, n in after["empty"].items() if n > before["empty"].get(r, 0)]
    assert len(grown) == 1, (before, after)
    return grown[0]


async def test_unknown_and_closed_documents(client):
    uri = (client.workspace_dir / "gone.py").as_uri()
    assert await reason_of(client, inline_params(uri, 0, 0)) == "unknown-document"
    open_document(client, uri, "# note\n")
    assert await reason_of(client, inline_params(uri, 0, 6)) is None
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await reason_of(client, inline_params(uri, 0, 6)) == "unknown-document"


async def test_positions_outside_the_document(client):
    uri = (client.workspace_dir / "short.py").as_uri()
    open_document(client, uri, "x = 1\n# end")
    assert await reason_of(client, inline_params(uri, 7, 0)) == "bad-position"
    assert await reason_of(client, inline_params(uri, 0, 50)) == "bad-position"
    assert await reason_of(client, inline_params(uri, 1, 5)) is None  # the real end


async def test_a_5_mb_document_is_served_without_reading_all_of_it(client):
    uri = (client.workspace_dir / "huge.py").as_uri()
    line = "value_{0} = compute({0})  # a line of a generated module\n"
    text = "".join(line.format(i) for i in range(90_000))
    assert len(text) > 5_000_000
    middle = 45_000
    open_document(client, uri, text)
    result = await client.text_document_inline_completion_async(
        inline_params(uri, middle, len(line.format(middle)) - 1)
    )
    assert len(result.items) == 1
    # An edit at the very end and a request there: the document stayed in sync.
    end = types.Position(line=90_000, character=0)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=end, end=end), text="# the end"
                )
            ],
        )
    )
    result = await client.text_document_inline_completion_async(
        inline_params(uri, 90_000, len("# the end"))
    )
    assert len(result.items) == 1


async def test_a_flood_of_changes_is_applied_in_full(client):
    uri = (client.workspace_dir / "flood.py").as_uri()
    open_document(client, uri, "# start\n")
    for version in range(2, 1002):
        position = types.Position(line=version - 1, character=0)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=position, end=position),
                        text=f"# line {version}\n",
                    )
                ],
            )
        )
    # Only a server that applied all 1,000 edits has a line 1000 ending at this column.
    assert await reason_of(client, inline_params(uri, 1000, len("# line 1001"))) is None
    assert await reason_of(client, inline_params(uri, 1002, 0)) == "bad-position"
