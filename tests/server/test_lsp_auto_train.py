"""The workspace's completion adapter trains by itself after N new accepted completions
(``evoselfcode.completion.trainAfterAccepts``), over the real stdio transport.

The outcome log already holds one accepted suggestion in this workspace (from an earlier
session) and one in another folder; with N = 2 one more acceptance starts ``finetune
--workspace`` on the workspace folder, as the palette's command does. The test cancels the
run once it is going (training the smoke model is not what is checked here).
"""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.server.conftest import (
    SERVER,
    edit_document,
    inline_params,
    open_document,
    plain,
    ready_session,
    status_now,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = "# a note\nvalue = 1\n"


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    from evolution.store.outcomes import OutcomeLog, log_path

    root = tmp_path_factory.mktemp("auto-train")
    workspace, data_dir = root / "project", root / "data"
    workspace.mkdir()
    for name in ("shapes.py", "numbers.py", "words.py"):
        (workspace / name).write_text(f"def {name[:-3]}():\n    return {name!r}\n")
    earlier = OutcomeLog(log_path(data_dir))
    for n, folder in enumerate((workspace, root / "elsewhere")):
        earlier.append(
            {
                "id": f"earlier-{n}",
                "uri": (folder / "old.py").as_uri(),
                "model": "endless",
                "adapter": None,
                "outcome": "accepted",
                "shown_at": "2026-11-30T00:00:00.000+00:00",
            }
        )
    earlier.close()
    lsp_client.results = []  # type: ignore[attr-defined]
    lsp_client.feature("evoselfcode/finetuneResult")(
        lambda ls, params: lsp_client.results.append(plain(params))  # type: ignore[attr-defined]
    )
    settings = {
        "model": str(endless_model_dir),
        "device": "cpu",
        "dataDir": str(data_dir),
        "completion": {
            "debounceMs": 0,
            "maxTokens": 4,
            "prefetch": False,
            "trainAfterAccepts": 2,
        },
    }
    async with ready_session(lsp_client, workspace, settings):
        yield


async def test_enough_new_acceptances_start_a_workspace_fine_tune(client):
    counted = await wait_for(
        lambda: (plain(client.statuses[-1])["completions"].get("outcomes") or {}).get("autoTrain"),
        what="the count from the log",
    )
    assert counted == {"acceptedSinceTraining": 1, "trainAfter": 2}
    logs = len(client.log_messages)
    uri = (client.workspace_dir / "note.py").as_uri()
    open_document(client, uri, SOURCE)
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 8))
    assert isinstance(result, types.InlineCompletionList)
    [item] = result.items
    assert isinstance(item.insert_text, str) and item.insert_text
    at = types.Position(line=0, character=8)
    edit_document(client, uri, 2, at, at, item.insert_text)  # taken: an inferred acceptance
    started = await wait_for(
        lambda: next(
            (
                m.message
                for m in client.log_messages[logs:]
                if "new accepted completions" in m.message
            ),
            None,
        ),
        what="the automatic fine-tune",
    )
    assert "auto_train: 2 new accepted completions: fine-tuning run-" in started
    assert str(client.workspace_dir) in started
    status = await status_now(client)
    assert status["completions"]["outcomes"]["autoTrain"]["acceptedSinceTraining"] == 0
    cancelled = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="evoselfcode.cancelFineTune")
    )
    assert plain(cancelled) == {"cancelled": True}
    outcome = await wait_for(lambda: client.results, what="the run's result")  # type: ignore[attr-defined]
    assert outcome[0]["status"] in ("cancelled", "finished"), outcome
