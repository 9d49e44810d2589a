"""A workspace's own completion adapter serves, and is rolled back by itself when users take
its suggestions significantly less often than the base model's, over the real stdio transport.

Before the server starts, the workspace's completion registry gets a promoted LoRA adapter
(random weights, for the endless smoke model) and the outcome log 80 earlier suggestions of
the base model in this workspace, half of them accepted. The test then plays a user who
dismisses every suggestion of the adapter: at the watch's first look (40 suggestions) the
drop is significant, and the server rolls the adapter back in the workspace's registry, says
so in a message and in the status, and serves the base model again.
"""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from server.outcomes.acceptance_watch import LOOKS
from tests.server.conftest import (
    SERVER,
    edit_document,
    inline_params,
    open_document,
    ready_session,
    status_now,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADAPTER = "ws-adapter"
SOURCE = "# a note\nvalue = 1\n"


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, lora_adapter_dir, tmp_path_factory):
    from evolution.finetune.registry import AdapterRecord, AdapterRegistry
    from evolution.finetune.workspace_data import completion_registry_root
    from evolution.store.outcomes import OutcomeLog, log_path

    root = tmp_path_factory.mktemp("rollback")
    workspace, data_dir = root / "project", root / "data"
    workspace.mkdir()
    registry = AdapterRegistry(completion_registry_root(data_dir, workspace))
    record = AdapterRecord(
        id=ADAPTER,
        base_model=str(endless_model_dir),
        data_hash="0" * 64,
        created_at="2026-12-01T00:00:00+00:00",
        random_weights=True,
    )
    registry.add(lora_adapter_dir, record)
    registry.promote(ADAPTER, reason="test")
    earlier = OutcomeLog(log_path(data_dir))
    for n in range(80):
        earlier.append(
            {
                "id": f"earlier-{n}",
                "uri": (workspace / f"old{n}.py").as_uri(),
                "model": "endless",
                "adapter": None,
                "outcome": "accepted" if n % 2 else "dismissed",
                "shown_at": "2026-11-30T00:00:00.000+00:00",
            }
        )
    earlier.close()
    settings = {
        "model": str(endless_model_dir),
        "device": "cpu",
        "dataDir": str(data_dir),
        "completion": {"debounceMs": 0, "maxTokens": 4, "prefetch": False},
    }
    async with ready_session(lsp_client, workspace, settings):
        lsp_client.registry = registry  # type: ignore[attr-defined]
        yield


def watch_of(status: dict) -> dict | None:
    return (status["completions"].get("outcomes") or {}).get("acceptanceWatch")


async def suggest_and_dismiss(client: LanguageClient, n: int) -> None:
    uri = (client.workspace_dir / f"note{n}.py").as_uri()  # type: ignore[attr-defined]
    open_document(client, uri, SOURCE)
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 8))
    assert isinstance(result, types.InlineCompletionList) and result.items
    # An edit elsewhere: the suggestion was dismissed.
    start = types.Position(line=1, character=0)
    edit_document(client, uri, 2, start, start, "# edited\n")


async def test_the_adapter_users_take_less_is_rolled_back_by_itself(client):
    statuses = client.statuses  # type: ignore[attr-defined]
    await wait_for(lambda: statuses[-1]["adapter"] == ADAPTER, what="the workspace's adapter")
    watching = await wait_for(lambda: watch_of(statuses[-1]), what="the acceptance watch")
    assert watching["adapter"] == ADAPTER and watching["previous"] is None
    assert (watching["previousShown"], watching["previousRate"]) == (80, 0.5)
    assert watching["state"] == "watching" and watching["nextLook"] == LOOKS[0]
    messages = len(client.messages)

    for n in range(LOOKS[0]):
        await suggest_and_dismiss(client, n)

    warning = await wait_for(
        lambda: next((m for m in client.messages[messages:] if "rolled back" in m.message), None),
        what="the rollback message",
    )
    assert warning.type == types.MessageType.Warning
    assert f"the adapter {ADAPTER}" in warning.message and "Fisher" in warning.message
    assert "50% of 80 under the base model" in warning.message
    assert f"0% of {LOOKS[0]} under {ADAPTER}" in warning.message
    registry = client.registry  # type: ignore[attr-defined]
    assert registry.promoted() is None and registry.get(ADAPTER).status == "rolled_back"
    assert "rolled back by itself" in registry.events()[-1]["reason"]
    # The base model serves again, and the status keeps what happened.
    await wait_for(lambda: statuses[-1]["adapter"] is None, what="the base model serving")
    status = await status_now(client)
    assert watch_of(status)["lastRollback"]["adapter"] == ADAPTER
