"""Suggestion outcomes end to end: pytest-lsp drives ``evoselfcode serve`` over stdio.

The endless smoke model (RANDOM WEIGHTS) writes one junk line at the end of a comment. The
tests play the editor: they insert what was suggested (or part of it, or something else)
with ``didChange``, as a client that never reports acceptance would, or also run the item's
command as VS Code does, and read the records back with ``evoselfcode.completionOutcomes``.
The retention checks run after 0.4 s and 0.8 s instead of 30 s and 5 min
(``$EVOSELFCODE_OUTCOME_CHECKS_S``).
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from server.outcomes.tracker import CHECKS_ENV
from tests.server.conftest import (
    edit_document,
    inline_params,
    open_document,
    plain,
    ready_session,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "server", "serve"],
    server_env={**os.environ, CHECKS_ENV: "0.4,0.8"},
)
SOURCE = "def area(width, height):\n    # compute the area: \n    return width * height\n"
LINE, END = 1, len("    # compute the area: ")
AT = types.Position(line=LINE, character=END)


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    settings = {
        "model": str(endless_model_dir),
        "device": "cpu",
        "completion": {"debounceMs": 0, "maxTokens": 12},
    }
    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "outcomes", settings):
        yield


async def suggest(client: LanguageClient, name: str) -> tuple[str, types.InlineCompletionItem]:
    uri = (client.workspace_dir / name).as_uri()  # type: ignore[attr-defined]
    open_document(client, uri, SOURCE)
    result = await client.text_document_inline_completion_async(inline_params(uri, LINE, END))
    assert isinstance(result, types.InlineCompletionList)
    [item] = result.items
    assert isinstance(item.insert_text, str) and item.insert_text
    assert item.command is not None and item.command.command == "evoselfcode.completionAccepted"
    return uri, item


async def command(client: LanguageClient, name: str, *arguments) -> dict:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments))
    )
    return plain(result)


async def record_of(client: LanguageClient, uri: str) -> dict:
    """The written record of the suggestion served in ``uri`` (waits for it)."""
    for _ in range(200):
        outcomes = await command(client, "evoselfcode.completionOutcomes")
        record = next((r for r in outcomes["recent"] if r["uri"] == uri), None)
        if record is not None:
            return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"no outcome record for {uri}")


async def test_an_insertion_of_the_suggestion_is_an_inferred_acceptance_then_measured(client):
    uri, item = await suggest(client, "inferred.py")
    text = item.insert_text
    assert isinstance(text, str)
    edit_document(client, uri, 2, AT, AT, text)
    # Half of it deleted again before the checks.
    half = len(text) // 2
    cut = types.Position(line=LINE, character=END + half)
    edit_document(client, uri, 3, cut, types.Position(line=LINE, character=END + len(text)), "")
    record = await record_of(client, uri)
    assert record["schema_version"] == 1
    assert record["outcome"] == "accepted" and record["signal"] == "inferred"
    assert record["text"] == text and record["accepted_chars"] == len(text)
    assert record["retained_30s"] == half == record["retained_5m"]
    assert record["reverted"] is False
    assert record["position"] == {"line": LINE, "character": END}
    assert record["model"] == "endless"


async def test_the_item_command_makes_the_acceptance_observed(client):
    uri, item = await suggest(client, "observed.py")
    assert isinstance(item.insert_text, str) and item.command is not None
    edit_document(client, uri, 2, AT, AT, item.insert_text)
    answer = await command(client, item.command.command, *(item.command.arguments or []))
    assert answer == {"known": True}
    record = await record_of(client, uri)
    assert record["outcome"] == "accepted" and record["signal"] == "observed"
    assert record["retained_5m"] == len(item.insert_text)
    status = await command(client, "evoselfcode.status")
    outcomes = status["completions"]["outcomes"]
    assert outcomes["signals"]["accepted"] == "observed"
    assert outcomes["accepted"] >= 1 and outcomes["acceptanceRate"] > 0
    assert outcomes["retainedCharRate"]["5m"] is not None


async def test_a_partial_acceptance_and_a_typed_over_suggestion(client):
    uri, item = await suggest(client, "partial.py")
    text = item.insert_text
    assert isinstance(text, str) and len(text) > 3
    edit_document(client, uri, 2, AT, AT, text[:3])
    await client.text_document_inline_completion_async(inline_params(uri, LINE, END + 3))
    record = await record_of(client, uri)
    assert record["outcome"] == "partial" and record["accepted_chars"] == 3

    other, item = await suggest(client, "typed_over.py")
    assert isinstance(item.insert_text, str)
    edit_document(client, other, 2, AT, AT, "\u00a7" if item.insert_text[0] != "\u00a7" else "#")
    record = await record_of(client, other)
    assert record["outcome"] == "typed-over" and record["accepted_chars"] == 0
    assert record["retained_30s"] is None


async def test_the_outcomes_command_says_where_the_log_is(client):
    outcomes = await command(client, "evoselfcode.completionOutcomes")
    assert outcomes["path"].endswith(os.path.join("outcomes", "completions.jsonl"))
    assert outcomes["enabled"] is True and outcomes["skippedLines"] == 0
    assert set(outcomes["session"]["signals"]) >= {"accepted", "partial", "retained"}
    await wait_for(lambda: client.statuses, what="a status")  # type: ignore[attr-defined]


async def test_with_recording_off_nothing_is_written_but_the_session_still_counts(client):
    async def record_outcomes(on: bool) -> None:
        client.set_configuration({"completion": {"recordOutcomes": on}}, section="evoselfcode")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        for _ in range(200):  # the server reads the configuration back, then applies it
            if (await command(client, "evoselfcode.completionOutcomes"))["enabled"] == on:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"recordOutcomes never became {on}")

    await record_outcomes(False)
    try:
        before = (await command(client, "evoselfcode.status"))["completions"]["outcomes"]
        uri, item = await suggest(client, "unrecorded.py")
        assert isinstance(item.insert_text, str) and item.command is not None
        edit_document(client, uri, 2, AT, AT, item.insert_text)
        await command(client, item.command.command, *(item.command.arguments or []))
        await asyncio.sleep(1.5)  # both retention checks (0.4 s and 0.8 s) have run
        outcomes = await command(client, "evoselfcode.completionOutcomes")
        assert all(r["uri"] != uri for r in outcomes["recent"])
        log = client.data_dir / "outcomes" / "completions.jsonl"  # type: ignore[attr-defined]
        assert not log.exists() or uri not in log.read_text(encoding="utf-8")
        assert outcomes["session"]["accepted"] == before["accepted"] + 1  # counted, not written
    finally:
        await record_outcomes(True)
