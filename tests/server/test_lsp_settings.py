"""Settings at run time: the model reloads without a restart, adapters swap in place, bad
values are reported and ignored, and the status notifications follow along.

Models are copies of the endless smoke model (RANDOM WEIGHTS); the adapter is a LoRA with
random weights made here with peft.
"""

from __future__ import annotations

import shutil

import pytest
import pytest_lsp
from lsprotocol import types
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


@pytest.fixture(scope="module")
def lora_adapter_dir(endless_model_dir, tmp_path_factory):
    """A LoRA adapter (random weights) for the smoke model, saved as peft saves them."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(endless_model_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    target = tmp_path_factory.mktemp("adapters") / "tuned-1"
    get_peft_model(model, config).save_pretrained(target)
    return target


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    lsp_client.statuses = record_status(lsp_client)  # type: ignore[attr-defined]
    workspace = tmp_path_factory.mktemp("ws") / "settings"
    await initialize(
        lsp_client,
        workspace,
        {"model": str(endless_model_dir), "device": "cpu", "completion": {"debounceMs": 0}},
    )
    await wait_for_state(lsp_client.statuses, "ready")  # type: ignore[attr-defined]
    lsp_client.data_dir = workspace.parent / "data"  # type: ignore[attr-defined]
    lsp_client.doc_uri = (workspace / "notes.py").as_uri()  # type: ignore[attr-defined]
    open_document(lsp_client, lsp_client.doc_uri, "# a note\n")  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def change_settings(client: LanguageClient, **values) -> int:
    """Set values (dotted keys) on the client and announce the change; return the status mark."""
    for key, value in values.items():
        client.set_configuration(value, section=f"evoselfcode.{key}")
    mark = len(client.statuses)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    return mark


async def test_changing_the_model_reloads_it_without_a_restart(client, endless_model_dir, tmp_path):
    other = tmp_path / "endless-copy"
    shutil.copytree(endless_model_dir, other)
    server_pid = client._server.pid
    mark = change_settings(client, model=str(other))
    loading = await wait_for_state(client.statuses, "loading", after=mark)
    assert loading["model"] == str(other)
    ready = await wait_for_state(client.statuses, "ready", after=mark)
    assert ready["model"] == "endless-copy"
    assert client._server.pid == server_pid
    result = await client.text_document_inline_completion_async(
        inline_params(client.doc_uri, 0, len("# a note"))
    )
    assert len(result.items) == 1


async def test_a_missing_model_fails_with_a_reason_then_recovers(
    client, endless_model_dir, tmp_path
):
    mark = change_settings(client, model=str(tmp_path / "not-a-model"))
    failed = await wait_for_state(client.statuses, "failed", after=mark)
    assert "not-a-model" in failed["reason"]
    assert any("could not load" in m.message for m in client.messages)
    result = await client.text_document_inline_completion_async(
        inline_params(client.doc_uri, 0, len("# a note"))
    )
    assert result.items == ()
    assert (await status_now(client))["completions"]["empty"]["model-failed"] >= 1
    mark = change_settings(client, model=str(endless_model_dir))
    assert (await wait_for_state(client.statuses, "ready", after=mark))["model"] == "endless"


async def test_an_adapter_change_swaps_it_on_the_loaded_model(client, lora_adapter_dir):
    logs = len(client.log_messages)
    mark = change_settings(client, adapter=str(lora_adapter_dir))

    def swapped_or_failed():
        failures = [m.message for m in client.log_messages[logs:] if "adapter" in m.message]
        failures = [m for m in failures if "could not" in m]
        assert not failures, failures[0]
        return next((s for s in client.statuses[mark:] if s["adapter"] == "tuned-1"), None)

    swapped = await wait_for(swapped_or_failed, what="the adapter in the status")
    assert swapped["state"] == "ready"
    assert all(s["state"] != "loading" for s in client.statuses[mark:])  # no reload
    result = await client.text_document_inline_completion_async(
        inline_params(client.doc_uri, 0, len("# a note"))
    )
    assert len(result.items) == 1
    mark = change_settings(client, adapter="none")
    await wait_for(
        lambda: any(s["adapter"] is None for s in client.statuses[mark:]), what="adapter off"
    )


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
    await wait_for(
        lambda: any(s["adapter"] == "promoted-one" for s in client.statuses[mark:]),
        what="the promoted adapter in the status",
    )
    mark = change_settings(client, adapter="none")
    await wait_for(
        lambda: any(s["adapter"] is None for s in client.statuses[mark:]), what="adapter off"
    )


async def test_an_unknown_adapter_is_reported_and_the_base_model_keeps_serving(client):
    mark = change_settings(client, adapter="no-such-adapter")
    await wait_for(
        lambda: any("could not use the adapter" in m.message for m in client.messages),
        what="a message about the adapter",
    )
    status = await wait_for(lambda: client.statuses[mark:] and client.statuses[-1])
    assert status["state"] == "ready" and status["adapter"] is None
    result = await client.text_document_inline_completion_async(
        inline_params(client.doc_uri, 0, len("# a note"))
    )
    assert len(result.items) == 1
    change_settings(client, adapter="none")


async def test_invalid_values_are_reported_and_the_previous_ones_kept(client):
    mark = len(client.log_messages)
    change_settings(client, **{"completion.debounceMs": -3, "device": "tpu"})
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


async def test_disabling_completions_gives_empty_answers_with_that_reason(client):
    change_settings(client, **{"completion.enabled": False})
    await wait_for(
        lambda: any("completion.enabled" in m.message for m in client.log_messages),
        what="the settings change",
    )
    result = await client.text_document_inline_completion_async(
        inline_params(client.doc_uri, 0, len("# a note"))
    )
    assert result.items == ()
    assert (await status_now(client))["completions"]["empty"]["disabled"] >= 1
    change_settings(client, **{"completion.enabled": True})
