"""Self-evolve with a client that has no UI of its own for it (any LSP client).

The server asks with ``window/showMessageRequest`` (Accept / Reject) after answering the
command, applies the edit itself with ``workspace/applyEdit`` and records the pair; rejections
come as ``window/showMessage``. The client here answers the questions from a queue and applies
edits to its copy of the document as an editor would. The completion model is the smoke model
(RANDOM WEIGHTS); the generator and verifier are the scripted test server.
"""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from evolution.store import Decontaminator, TrainingStore
from evolution.testserver import ScriptedServer
from tests.server.conftest import SERVER, initialize, plain, record_status, wait_for, wait_for_state
from tests.server.editor import Editor
from tests.server.evolve_script import script

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = '''import math


def mean(values):
    """Arithmetic mean of the values."""
    return sum(values) / len(values)
'''


@pytest.fixture(scope="module")
def scripted():
    with ScriptedServer(script()) as server:
        yield server


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, smoke_model_dir, scripted, tmp_path_factory):
    statuses = record_status(lsp_client)
    workspace = tmp_path_factory.mktemp("ws") / "generic"
    url = {"baseUrl": scripted.base_url}
    settings = {"model": str(smoke_model_dir), "device": "cpu", "generator": url, "verifier": url}
    lsp_client.set_configuration(settings, section="evoselfcode")
    await initialize(lsp_client, workspace, settings)
    await wait_for_state(statuses, "ready")
    editor = Editor(lsp_client, (workspace / "stats.py").as_uri(), SOURCE)
    lsp_client.editor = editor  # type: ignore[attr-defined]
    lsp_client.store_path = workspace.parent / "data" / "training" / "pairs.jsonl"  # type: ignore[attr-defined]
    lsp_client.answers = []  # type: ignore[attr-defined]
    lsp_client.questions = []  # type: ignore[attr-defined]

    @lsp_client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def ask(ls, params: types.ShowMessageRequestParams):
        lsp_client.questions.append(params)
        before_answer, title = lsp_client.answers.pop(0)
        before_answer()
        return None if title is None else types.MessageActionItem(title=title)

    lsp_client.feature(types.WORKSPACE_APPLY_EDIT)(lambda ls, params: editor.apply(params))
    yield
    await lsp_client.shutdown_session()


def records(client: LanguageClient) -> int:
    if not client.store_path.exists():
        return 0
    return len(TrainingStore(client.store_path, decontaminator=Decontaminator([])))


async def evolve(client: LanguageClient) -> dict:
    params = types.ExecuteCommandParams(
        command="evoselfcode.selfEvolve",
        arguments=[{"uri": client.editor.uri, "position": {"line": 5, "character": 4}}],
    )
    return plain(await client.workspace_execute_command_async(params))


async def shown(client: LanguageClient, text: str, mark: int) -> types.ShowMessageParams:
    return await wait_for(
        lambda: next((m for m in client.messages[mark:] if text in m.message), None),
        timeout=30,
        what=f"a message with {text!r}",
    )


async def test_accept_applies_the_edit_and_records_the_pair(client):
    mark = len(client.messages)
    client.answers.append((lambda: None, "Accept"))
    result = await evolve(client)
    assert result["ok"], result["reason"]
    message = await shown(client, "applied; recorded as training pair", mark)
    assert message.type == types.MessageType.Info
    question = client.questions[-1]
    assert "passed every gate" in question.message
    assert [a.title for a in question.actions] == ["Accept", "Reject"]
    assert "math.fsum(values)" in client.editor.text and client.editor.text.startswith(
        "import math"
    )
    assert records(client) == 1
    assert any("+    return math.fsum(values)" in m.message for m in client.log_messages)  # diff


async def test_a_function_moved_meanwhile_is_replaced_where_it_is_now(client):
    editor = client.editor
    editor.replace_all(SOURCE)  # back to the original
    mark = len(client.messages)
    moved = "import math\nimport os\n\n\nX = 1" + SOURCE[len("import math") :]
    client.answers.append((lambda: editor.replace_all(moved), "Accept"))
    result = await evolve(client)
    assert result["ok"]
    await shown(client, "applied;", mark)  # the same code again: a duplicate, not recorded
    assert editor.text.startswith("import math\nimport os\n\n\nX = 1\n\n\ndef mean(values):")
    assert "math.fsum(values)" in editor.text and "return sum(values)" not in editor.text
    assert records(client) == 1


async def test_reject_records_nothing(client):
    client.editor.replace_all(SOURCE)
    mark = len(client.messages)
    client.answers.append((lambda: None, "Reject"))
    result = await evolve(client)
    await shown(client, "proposal discarded; nothing recorded", mark)
    assert client.editor.text == SOURCE and records(client) == 1
    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="evoselfcode.acceptEvolution", arguments=[{"id": result["id"]}]
            )
        )


async def test_a_dismissed_question_leaves_the_proposal_pending(client, scripted):
    client.answers.append((lambda: None, None))
    scripted.set_script(script(code=script_code_with_docstring()))
    result = await evolve(client)
    await wait_for(lambda: not client.answers, timeout=30, what="the question")
    params = types.ExecuteCommandParams(
        command="evoselfcode.acceptEvolution", arguments=[{"id": result["id"]}]
    )
    answer = plain(await client.workspace_execute_command_async(params))
    assert answer["applied"] is True and answer["recorded"] is True  # the server applied it
    assert "0.0 when there are none" in client.editor.text and records(client) == 2


def script_code_with_docstring() -> str:
    return (
        'def mean(values):\n    """Arithmetic mean; 0.0 when there are none."""\n'
        "    return math.fsum(values) / len(values) if values else 0.0\n"
    )


async def test_a_gate_rejection_is_shown(client, scripted):
    scripted.set_script(script(tests="assert mean([1, 2]) == 2\n"))
    mark = len(client.messages)
    result = await evolve(client)
    assert result["rejectedBy"] == "execution"
    message = await shown(client, "was rejected by the execution gate", mark)
    assert message.type == types.MessageType.Warning and "Nothing was recorded" in message.message
