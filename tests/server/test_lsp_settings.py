"""Settings at run time: the model reloads without a restart, adapters swap in place, bad
values are reported and ignored, and the status notifications follow along.

Models are copies of the endless smoke model (RANDOM WEIGHTS); the adapter is a LoRA with
random weights made here with peft.

The tests share one server (each start loads torch and the model) but no settings: every
test starts from the fixture's settings (the endless model, no adapter, completions on),
sets what it needs, and puts back what it changed in a ``finally``, waiting until the server
has taken it in. Completions go to a document of their own, so none is answered from another
test's cache. Any order passes, each test alone too.
"""

from __future__ import annotations

import itertools
import shutil

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
    wait_for_state,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOTE = "# a note"
CALLS = itertools.count()  # numbers the documents of ``complete``


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    settings = {
        "model": str(endless_model_dir),
        "device": "cpu",
        # Not the default ("promoted"): a test that sets "promoted" must be a change.
        "adapter": "none",
        "completion": {"debounceMs": 0},
    }
    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "settings", settings):
        yield


def change_settings(client: LanguageClient, **values) -> int:
    """Set values (dotted keys) on the client and announce the change; return the status mark."""
    for key, value in values.items():
        client.set_configuration(value, section=f"evoselfcode.{key}")
    mark = len(client.statuses)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    return mark


def changed_keys(client: LanguageClient, start: int) -> set[str]:
    """The settings the server reported changed (``settings changed: a, b``) since ``start``."""
    keys: set[str] = set()
    for message in client.log_messages[start:]:
        if "settings changed: " in message.message:
            keys.update(message.message.split("settings changed: ", 1)[1].split(", "))
    return keys


async def apply(client: LanguageClient, **values) -> int:
    """``change_settings``, then wait until the server has taken in every value (it logs each
    key that changed: only for values that differ from the server's). Returns the mark."""
    logs = len(client.log_messages)
    mark = change_settings(client, **values)
    wanted = {f"evoselfcode.{key}" for key in values}
    await wait_for(lambda: wanted <= changed_keys(client, logs), what=f"the change of {wanted}")
    return mark


async def serve_the_base_model(client: LanguageClient) -> None:
    """Back to the fixture's adapter setting ("none"), and wait until the status shows it."""
    mark = await apply(client, adapter="none")
    await wait_for(
        lambda: any(s["adapter"] is None for s in client.statuses[mark:]), what="adapter off"
    )


async def serve_the_endless_model(client: LanguageClient, endless_model_dir) -> dict:
    """Back to the fixture's model; wait until it is loaded and return that ``ready`` status."""
    mark = await apply(client, model=str(endless_model_dir))
    return await wait_for_state(client.statuses, "ready", after=mark)


async def complete(client: LanguageClient) -> types.InlineCompletionList:
    """An inline completion at the end of a note, in a document of its own: never answered
    from the cache of another test or call."""
    uri = (client.workspace_dir / f"notes-{next(CALLS)}.py").as_uri()
    open_document(client, uri, f"{NOTE}\n")
    return await client.text_document_inline_completion_async(inline_params(uri, 0, len(NOTE)))


async def empty_count(client: LanguageClient, reason: str) -> int:
    return (await status_now(client))["completions"]["empty"].get(reason, 0)


async def test_changing_the_model_reloads_it_without_a_restart(client, endless_model_dir, tmp_path):
    other = tmp_path / "endless-copy"
    shutil.copytree(endless_model_dir, other)
    server_pid = client._server.pid
    mark = change_settings(client, model=str(other))
    try:
        loading = await wait_for_state(client.statuses, "loading", after=mark)
        assert loading["model"] == str(other)
        ready = await wait_for_state(client.statuses, "ready", after=mark)
        assert ready["model"] == "endless-copy"
        assert client._server.pid == server_pid
        result = await complete(client)
        assert len(result.items) == 1
    finally:
        await serve_the_endless_model(client, endless_model_dir)


async def test_a_missing_model_fails_with_a_reason_then_recovers(
    client, endless_model_dir, tmp_path
):
    messages = len(client.messages)
    mark = change_settings(client, model=str(tmp_path / "not-a-model"))
    try:
        failed = await wait_for_state(client.statuses, "failed", after=mark)
        assert "not-a-model" in failed["reason"]
        # The pop-up is sent just after the status: wait for it too.
        await wait_for(
            lambda: any("could not load" in m.message for m in client.messages[messages:]),
            what="the pop-up about the model",
        )
        before = await empty_count(client, "model-failed")
        result = await complete(client)
        assert result.items == ()
        assert await empty_count(client, "model-failed") == before + 1
    finally:
        ready = await serve_the_endless_model(client, endless_model_dir)
    assert ready["model"] == "endless"


async def test_an_adapter_change_swaps_it_on_the_loaded_model(client, lora_adapter_dir):
    logs = len(client.log_messages)
    mark = change_settings(client, adapter=str(lora_adapter_dir))

    def swapped_or_failed():
        failures = [m.message for m in client.log_messages[logs:] if "adapter" in m.message]
        failures = [m for m in failures if "could not" in m]
        assert not failures, failures[0]
        return next((s for s in client.statuses[mark:] if s["adapter"] == "tuned-1"), None)

    try:
        swapped = await wait_for(swapped_or_failed, what="the adapter in the status")
        assert swapped["state"] == "ready"
        assert all(s["state"] != "loading" for s in client.statuses[mark:])  # no reload
        result = await complete(client)
        assert len(result.items) == 1
    finally:
        await serve_the_base_model(client)


async def test_the_registry_s_promoted_adapter_is_served(
    client, lora_adapter_dir, endless_model_dir
):
    from evolution.finetune.registry import AdapterRecord, AdapterRegistry

    registry = AdapterRegistry.in_data_dir(client.data_dir)
    record = AdapterRecord(
        id="promoted-one",
        base_model=str(endless_model_dir),
        data_hash="0" * 64,
        created_at="2026-11-21T00:00:00+00:00",
        random_weights=True,
    )
    registry.add(lora_adapter_dir, record)
    registry.promote("promoted-one", reason="test")
    mark = change_settings(client, adapter="promoted")
    try:
        await wait_for(
            lambda: any(s["adapter"] == "promoted-one" for s in client.statuses[mark:]),
            what="the promoted adapter in the status",
        )
    finally:
        await serve_the_base_model(client)


async def test_an_unknown_adapter_is_reported_and_the_base_model_keeps_serving(client):
    messages = len(client.messages)
    mark = change_settings(client, adapter="no-such-adapter")
    try:
        await wait_for(
            lambda: any(
                "could not use the adapter" in m.message for m in client.messages[messages:]
            ),
            what="a message about the adapter",
        )
        status = await wait_for(lambda: client.statuses[mark:] and client.statuses[-1])
        assert status["state"] == "ready" and status["adapter"] is None
        result = await complete(client)
        assert len(result.items) == 1
    finally:
        await serve_the_base_model(client)


async def test_invalid_values_are_reported_and_the_previous_ones_kept(client):
    mark = len(client.log_messages)
    bad = {"completion.debounceMs": -3, "device": "tpu"}
    change_settings(client, **bad)
    try:
        warnings = await wait_for(
            lambda: (
                [m.message for m in client.log_messages[mark:] if "setting ignored" in m.message]
                or None
            ),
            what="warnings about the bad settings",
        )
        assert any("debounceMs must be at least 0" in w for w in warnings)
        assert any("device must be one of" in w for w in warnings)
        status = await status_now(client)
        assert status["state"] == "ready" and status["device"] == "cpu"
    finally:  # the server kept its values: only the client's copy has the bad ones
        for key in bad:
            client.set_configuration(None, section=f"evoselfcode.{key}")


async def test_disabling_completions_gives_empty_answers_with_that_reason(client):
    await apply(client, **{"completion.enabled": False})
    try:
        before = await empty_count(client, "disabled")
        result = await complete(client)
        assert result.items == ()
        assert await empty_count(client, "disabled") == before + 1
    finally:
        await apply(client, **{"completion.enabled": True})
