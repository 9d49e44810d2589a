"""Self-evolve with a client that has no UI of its own for it (any LSP client).

The server asks with ``window/showMessageRequest`` (Accept / Reject) after answering the
command, applies the edit itself with ``workspace/applyEdit`` and records the pair; rejections
come as ``window/showMessage``. The client here answers the questions from a queue and applies
edits to its copy of the document as an editor would. The completion model is the smoke model
(RANDOM WEIGHTS); the generator and verifier are the scripted test server.

The tests share one server and one scripted server, but nothing else: each evolves a
document of its own, starts with the default script and an empty answer queue
(``fresh_state``), proposes code no other test proposes (the store keeps one record per
code), and counts records relative to its start. Any order passes, each test alone too.
"""

from __future__ import annotations

import itertools

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from evolution.store import Decontaminator, RecordDraft, TrainingStore
from evolution.testserver import ScriptedServer
from tests.server.conftest import SERVER, plain, ready_session, wait_for
from tests.server.editor import Editor
from tests.server.evolve_script import script

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = '''import math


def mean(values):
    """Arithmetic mean of the values."""
    return sum(values) / len(values)
'''
# The code the moved function is replaced with: no other test proposes it.
MOVED = (
    'def mean(values):\n    """Arithmetic mean; 0.0 for an empty list."""\n'
    "    if len(values) == 0:\n        return 0.0\n    return math.fsum(values) / len(values)\n"
)
DOCUMENTS = itertools.count()  # numbers the documents of ``new_editor``


@pytest.fixture(scope="module")
def scripted():
    with ScriptedServer(script()) as server:
        yield server


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, smoke_model_dir, scripted, tmp_path_factory):
    url = {"baseUrl": scripted.base_url}
    settings = {"model": str(smoke_model_dir), "device": "cpu", "generator": url, "verifier": url}
    lsp_client.set_configuration(settings, section="evoselfcode")
    lsp_client.editors = {}  # type: ignore[attr-defined]
    lsp_client.answers = []  # type: ignore[attr-defined]
    lsp_client.questions = []  # type: ignore[attr-defined]

    @lsp_client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def ask(ls, params: types.ShowMessageRequestParams):
        lsp_client.questions.append(params)
        before_answer, title = lsp_client.answers.pop(0)
        before_answer()
        return None if title is None else types.MessageActionItem(title=title)

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply(ls, params: types.ApplyWorkspaceEditParams):
        [change] = params.edit.document_changes or ()
        return lsp_client.editors[change.text_document.uri].apply(params)

    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "generic", settings):
        lsp_client.store_path = lsp_client.data_dir / "training" / "pairs.jsonl"  # type: ignore[attr-defined]
        yield


@pytest.fixture(autouse=True)
def fresh_state(client, scripted):
    """Every test starts with the default script, no faults and no queued answers."""
    scripted.reset()
    client.answers.clear()
    client.questions.clear()
    yield
    scripted.reset()
    client.answers.clear()


def new_editor(client: LanguageClient, text: str = SOURCE) -> Editor:
    """A document of this test's own, opened; the server's edits are applied to it."""
    uri = (client.workspace_dir / f"stats-{next(DOCUMENTS)}.py").as_uri()
    editor = client.editors[uri] = Editor(client, uri, text)
    return editor


def records(client: LanguageClient) -> int:
    if not client.store_path.exists():
        return 0
    return len(TrainingStore(client.store_path, decontaminator=Decontaminator([])))


async def evolve(client: LanguageClient, editor: Editor) -> dict:
    params = types.ExecuteCommandParams(
        command="evoselfcode.selfEvolve",
        arguments=[{"uri": editor.uri, "position": {"line": 5, "character": 4}}],
    )
    return plain(await client.workspace_execute_command_async(params))


async def shown(client: LanguageClient, text: str, mark: int) -> types.ShowMessageParams:
    return await wait_for(
        lambda: next((m for m in client.messages[mark:] if text in m.message), None),
        timeout=30,
        what=f"a message with {text!r}",
    )


async def test_accept_applies_the_edit_and_records_the_pair(client):
    editor = new_editor(client)
    before = records(client)
    mark, logs = len(client.messages), len(client.log_messages)
    client.answers.append((lambda: None, "Accept"))
    result = await evolve(client, editor)
    assert result["ok"], result["reason"]
    message = await shown(client, "applied; recorded as training pair", mark)
    assert message.type == types.MessageType.Info
    question = client.questions[-1]
    assert "passed every gate" in question.message
    assert [a.title for a in question.actions] == ["Accept", "Reject"]
    assert "math.fsum(values)" in editor.text and editor.text.startswith("import math")
    assert records(client) == before + 1
    diff = [m.message for m in client.log_messages[logs:]]
    assert any("+    return math.fsum(values)" in m for m in diff)


async def test_a_function_moved_meanwhile_is_replaced_where_it_is_now(client, scripted):
    scripted.set_script(script(code=MOVED))
    # The same code is in the store already: accepting applies the edit, records nothing.
    with TrainingStore.in_data_dir(client.data_dir, decontaminator=Decontaminator([])) as store:
        store.add(RecordDraft("Make mean return 0.0 for an empty list.", MOVED, source="editor"))
    before = records(client)
    editor = new_editor(client)
    mark = len(client.messages)
    moved = "import math\nimport os\n\n\nX = 1" + SOURCE[len("import math") :]
    client.answers.append((lambda: editor.replace_all(moved), "Accept"))
    result = await evolve(client, editor)
    assert result["ok"]
    await shown(client, "applied; the same code is already recorded", mark)
    assert editor.text.startswith("import math\nimport os\n\n\nX = 1\n\n\ndef mean(values):")
    assert "math.fsum(values)" in editor.text and "return sum(values)" not in editor.text
    assert records(client) == before


async def test_reject_records_nothing(client):
    editor = new_editor(client)
    before = records(client)
    mark = len(client.messages)
    client.answers.append((lambda: None, "Reject"))
    result = await evolve(client, editor)
    await shown(client, "proposal discarded; nothing recorded", mark)
    assert editor.text == SOURCE and records(client) == before
    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="evoselfcode.acceptEvolution", arguments=[{"id": result["id"]}]
            )
        )


async def test_a_dismissed_question_leaves_the_proposal_pending(client, scripted):
    editor = new_editor(client)
    before = records(client)
    client.answers.append((lambda: None, None))
    scripted.set_script(script(code=script_code_with_docstring()))
    result = await evolve(client, editor)
    await wait_for(lambda: not client.answers, timeout=30, what="the question")
    params = types.ExecuteCommandParams(
        command="evoselfcode.acceptEvolution", arguments=[{"id": result["id"]}]
    )
    answer = plain(await client.workspace_execute_command_async(params))
    assert answer["applied"] is True and answer["recorded"] is True  # the server applied it
    assert "0.0 when there are none" in editor.text and records(client) == before + 1


def script_code_with_docstring() -> str:
    return (
        'def mean(values):\n    """Arithmetic mean; 0.0 when there are none."""\n'
        "    return math.fsum(values) / len(values) if values else 0.0\n"
    )


async def test_a_gate_rejection_is_shown(client, scripted):
    scripted.set_script(script(tests="assert mean([1, 2]) == 2\n"))
    mark = len(client.messages)
    result = await evolve(client, new_editor(client))
    assert result["rejectedBy"] == "execution"
    message = await shown(client, "was rejected by the execution gate", mark)
    assert message.type == types.MessageType.Warning and "Nothing was recorded" in message.message
