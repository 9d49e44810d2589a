"""Self-evolve over LSP as the VS Code extension drives it (``clientUi: true``).

A real server on stdio, the real scripted OpenAI-compatible test server on loopback for the
generator and the verifier, the real sandbox for the generated tests and the real
training-data store. The client shows results itself: it applies the returned edit and tells
the server to record the pair. The completion model is the smoke model (RANDOM WEIGHTS); it
plays no part here beyond being loaded.

The tests share one server and one scripted server, but nothing else: each works in documents
of its own (``new_editor``), the scripted server starts every test reset (``fresh_script``),
counts of stored records are taken relative to the test's start, and settings changed are put
back in a ``finally``. Any order passes, each test alone too.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import uuid
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

from evolution.store import Decontaminator, RecordDraft, TrainingStore
from evolution.testserver import Fault, ScriptedServer
from tests.server.conftest import SERVER, plain, ready_session, wait_for
from tests.server.editor import Editor, decode_code_actions_with_commands
from tests.server.evolve_script import ADD, ADD_TESTS, script

pytestmark = pytest.mark.asyncio(loop_scope="module")

REQUEST_FAILED = -32803
SOURCE = '''import math


def mean(values):
    """Arithmetic mean of the values."""
    return sum(values) / len(values)  # 平均 😀


def other():
    return 1
'''
MEAN_END = len("    return sum(values) / len(values)  # 平均 😀") + 1  # UTF-16: 😀 takes 2
KEY = "sk-evo-test-0123456789"
FOLDERS = itertools.count()  # numbers the folders of ``new_editor``


@pytest.fixture(scope="module")
def scripted():
    with ScriptedServer() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_script(scripted):
    """Every test starts with no script, no faults and no recorded requests."""
    scripted.reset()
    yield
    scripted.reset()


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, smoke_model_dir, scripted, tmp_path_factory):
    decode_code_actions_with_commands(lsp_client)
    settings = {
        "clientUi": True,
        "model": str(smoke_model_dir),
        "device": "cpu",
        "generator": {"baseUrl": scripted.base_url},
        "verifier": {"baseUrl": scripted.base_url},
    }
    pulled = {k: v for k, v in settings.items() if k != "clientUi"}
    lsp_client.set_configuration(pulled, section="evoselfcode")
    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "evolve", settings):
        yield


async def command(client: LanguageClient, name: str, argument: dict | None = None):
    arguments = [argument] if argument is not None else None
    return plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=arguments)
        )
    )


def new_editor(
    client: LanguageClient,
    name: str = "stats.py",
    text: str = SOURCE,
    language: str = "python",
) -> Editor:
    """A document ``name`` of this test's own, in a new folder of the workspace, opened."""
    folder = client.workspace_dir / f"doc-{next(FOLDERS)}"
    return Editor(client, (folder / name).as_uri(), text, language)


async def evolve(client: LanguageClient, uri: str, line: int = 5) -> dict:
    where = {"line": line, "character": 4}
    return await command(client, "evoselfcode.selfEvolve", {"uri": uri, "position": where})


async def actions_at(client: LanguageClient, uri: str, line: int) -> list[types.CodeAction]:
    position = types.Position(line=line, character=0)
    return list(
        await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=position, end=position),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        or ()
    )


def stored(client: LanguageClient) -> TrainingStore:
    path = client.data_dir / "training" / "pairs.jsonl"
    return TrainingStore(path, decontaminator=Decontaminator([]))


def record_count(client: LanguageClient) -> int:
    path = client.data_dir / "training" / "pairs.jsonl"
    return len(stored(client)) if path.exists() else 0


async def change_settings(client: LanguageClient, **changes) -> None:
    """Change settings the way VS Code does (the server pulls them) and wait until applied."""
    config = client.get_configuration(section="evoselfcode") or {}
    client.set_configuration({**config, **changes}, section="evoselfcode")
    mark = len(client.log_messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for(
        lambda: any("settings changed" in m.message for m in client.log_messages[mark:]),
        what="the new settings",
    )


def new_progress(client: LanguageClient, known: set) -> list:
    return [
        v for token, values in client.progress_reports.items() if token not in known for v in values
    ]


async def test_the_action_is_offered_in_functions_and_preferred_under_a_marker(client):
    editor = new_editor(client)
    [action] = await actions_at(client, editor.uri, 5)
    assert action.title == "Self-evolve this function" and not action.is_preferred
    assert action.kind == types.CodeActionKind.RefactorRewrite
    assert action.command is not None and action.command.command == "evoselfcode.selfEvolve"
    assert await actions_at(client, editor.uri, 0) == []  # `import math`: no function

    marked = new_editor(
        client, "marked.py", "# self-evolve: never fail\ndef f(x):\n    return 1 / x\n"
    )
    for line in (0, 2):  # on the marker comment and inside the function
        [action] = await actions_at(client, marked.uri, line)
        assert action.title == "Self-evolve this function" and action.is_preferred
    notes = new_editor(client, "notes.md", "def f():\n    pass\n", "markdown")
    assert await actions_at(client, notes.uri, 1) == []


async def test_an_accepted_evolution_is_recorded_and_the_client_applies_it(client, scripted):
    scripted.set_script(script())
    editor = new_editor(client)
    known = set(client.progress_reports)
    result = await evolve(client, editor.uri)
    assert result["ok"] and result["status"] == "accepted", result["reason"]
    assert result["rejectedBy"] is None and result["functionName"] == "mean"
    assert [(g["name"], g["passed"]) for g in result["gates"]] == [
        ("reply", True),
        ("syntax", True),
        ("execution", True),
        ("verifier", True),
    ]
    assert result["verdict"] == "yes" and result["confidence"] == pytest.approx(0.9589, abs=1e-3)
    assert result["original"] == "\n".join(SOURCE.splitlines()[3:6])
    assert "math.fsum" in result["proposed"]
    assert result["range"] == {
        "start": {"line": 3, "character": 0},
        "end": {"line": 5, "character": MEAN_END},
    }
    [change] = result["edit"]["documentChanges"]
    assert change["textDocument"] == {"uri": editor.uri, "version": editor.version}
    assert change["edits"] == [{"range": result["range"], "newText": result["proposed"]}]
    messages = [getattr(v, "message", None) or "" for v in new_progress(client, known)]
    for stage in (
        "generating",
        "checking syntax",
        "running the generated tests",
        "asking the verifier",
    ):
        assert any(m.startswith(stage) for m in messages), (stage, messages)
    assert isinstance(new_progress(client, known)[-1], types.WorkDoneProgressEnd)

    answer = await command(client, "evoselfcode.acceptEvolution", {"id": result["id"]})
    assert answer["recorded"] and not answer["duplicate"] and answer["applied"] is False
    edit = get_converter().structure(result["edit"], types.WorkspaceEdit)
    assert editor.apply_edit(edit)  # the client applies it itself (clientUi)
    assert "math.fsum(values)" in editor.text and "# 平均" not in editor.text

    record = stored(client).get(answer["recordId"])
    assert record.source == "editor" and record.code.startswith("def mean(values):")
    assert record.instruct == result["instruction"] and record.context.function_name == "mean"
    assert record.context.path is not None and record.context.path.endswith("stats.py")
    assert [g["name"] for g in record.provenance.gates] == [
        "reply",
        "syntax",
        "execution",
        "verifier",
    ]
    with pytest.raises(JsonRpcException) as error:  # accepted once only
        await command(client, "evoselfcode.acceptEvolution", {"id": result["id"]})
    assert error.value.code == REQUEST_FAILED and "no self-evolve proposal" in error.value.message


async def test_a_rejected_proposal_records_nothing(client, scripted):
    scripted.set_script(script())
    before = record_count(client)
    result = await evolve(client, new_editor(client).uri)
    assert result["ok"]
    assert await command(client, "evoselfcode.rejectEvolution", {"id": result["id"]}) == {
        "dropped": True
    }
    with pytest.raises(JsonRpcException):
        await command(client, "evoselfcode.acceptEvolution", {"id": result["id"]})
    assert record_count(client) == before


async def test_a_stale_proposal_is_refused_and_nothing_is_recorded(client, scripted):
    scripted.set_script(script())
    before = record_count(client)
    editor = new_editor(client)
    result = await evolve(client, editor.uri)
    assert result["ok"]
    body = "return sum(values) / len(values)"
    editor.replace_all(
        editor.text.replace(body, body.replace("len(values)", "max(len(values), 1)"))
    )
    with pytest.raises(JsonRpcException) as error:
        await command(client, "evoselfcode.acceptEvolution", {"id": result["id"]})
    assert error.value.code == REQUEST_FAILED
    assert "`mean` changed" in error.value.message and "nothing was recorded" in error.value.message
    assert record_count(client) == before


async def test_a_gate_rejection_names_the_gate_and_the_reason(client, scripted):
    scripted.set_script(script(tests="assert mean([1, 2]) == 2\n"))  # wrong: the mean is 1.5
    result = await evolve(client, new_editor(client).uri)
    assert result["ok"] is False and result["status"] == "rejected"
    assert result["rejectedBy"] == "execution"
    assert result["reason"].startswith("execution: a test failed")
    assert [g["name"] for g in result["gates"]] == ["reply", "syntax", "execution"]
    with pytest.raises(JsonRpcException) as error:
        await command(client, "evoselfcode.acceptEvolution", {"id": result["id"]})
    assert "rejected by the execution gate" in error.value.message


async def test_an_endpoint_that_is_down_is_named(client, scripted):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    editor = new_editor(client)
    await change_settings(client, generator={"baseUrl": down})
    try:
        result = await evolve(client, editor.uri)
    finally:
        await change_settings(client, generator={"baseUrl": scripted.base_url})
    assert result["status"] == "error" and result["ok"] is False
    assert (
        result["error"]["kind"] == "EndpointUnreachable" and result["error"]["role"] == "generator"
    )
    assert f"generator unreachable at {down}" in result["reason"]
    assert result["edit"] is None


async def test_a_missing_key_says_how_to_set_it_and_a_key_handed_in_works(client, scripted):
    editor = new_editor(client)
    with ScriptedServer(script(), api_key=KEY) as guarded:
        url = guarded.base_url
        await change_settings(client, generator={"baseUrl": url}, verifier={"baseUrl": url})
        try:
            refused = await evolve(client, editor.uri)
            keys = {"generator": KEY, "verifier": KEY}
            assert await command(client, "evoselfcode.setApiKeys", keys) == {
                "keysSet": {"generator": True, "verifier": True}
            }
            accepted = await evolve(client, editor.uri)
        finally:  # forget the keys ("" and None both do) and go back to the scripted server
            await command(client, "evoselfcode.setApiKeys", {"generator": "", "verifier": None})
            back = {"baseUrl": scripted.base_url}
            await change_settings(client, generator=back, verifier=back)
        sent = [r.headers.get("authorization") for r in guarded.requests]
    assert refused["status"] == "error" and refused["error"]["kind"] == "AuthenticationError"
    assert '"EvoSelfCode: Set API key"' in refused["reason"]
    assert "EVOSELFCODE_GENERATOR_API_KEY" in refused["reason"]
    assert accepted["ok"], accepted["reason"]
    assert sent == [None, "Bearer ***", "Bearer ***"]  # (the test server masks what it records)
    assert not any(KEY in m.message for m in client.log_messages)  # never logged


async def test_cancelling_the_progress_bar_stops_the_requests(client, scripted):
    scripted.set_script(script())
    scripted.inject(Fault(kind="slow", delay=30, path="/v1/chat/completions"))
    scripted.clear_requests()
    editor = new_editor(client)
    known = set(client.progress_reports)
    running = asyncio.ensure_future(evolve(client, editor.uri))
    token = await wait_for(
        lambda: next(
            (
                t
                for t, values in client.progress_reports.items()
                if t not in known
                and any("generating" in (getattr(v, "message", "") or "") for v in values)
            ),
            None,
        ),
        what="the generating stage",
    )
    client.protocol.notify(
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token)
    )
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(running, 20)  # the slow answer would take 30 s
    assert error.value.code == REQUEST_FAILED and "cancelled" in error.value.message
    assert len(scripted.bodies("/v1/chat/completions")) == 1  # the verifier was never asked


async def test_cancel_request_stops_the_flow_too(client, scripted):
    scripted.set_script(script())
    scripted.inject(Fault(kind="slow", delay=30, path="/v1/chat/completions"))
    scripted.clear_requests()
    editor = new_editor(client)
    mark = len(client.log_messages)
    params = types.ExecuteCommandParams(
        command="evoselfcode.selfEvolve",
        arguments=[{"uri": editor.uri, "position": {"line": 5, "character": 4}}],
    )
    running = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND, params, msg_id="evolve-1"
        )
    )
    await wait_for(lambda: scripted.requests, what="the generator request")
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="evolve-1"))
    with pytest.raises(JsonRpcRequestCancelled):
        await running
    await wait_for(
        lambda: any("self-evolve cancelled" in m.message for m in client.log_messages[mark:]),
        timeout=20,
        what="the flow to stop",
    )


async def test_a_self_evolve_instruction_evolves_the_function_below_it(client, scripted):
    scripted.set_script(script())
    scripted.clear_requests()
    function = "# self-evolve: return 0.0 for an empty list\ndef mean(values):\n" + (
        "    return sum(values) / len(values)"
    )
    editor = new_editor(client, "marker.py", f"import math\n\n{function}\n")
    result = await command(
        client,
        "evoselfcode.generateFromInstruction",
        {"uri": editor.uri, "position": {"line": 2, "character": 3}},
    )
    assert result["ok"] and result["functionName"] == "mean", result["reason"]
    assert result["original"] == function.split("\n", 1)[1]  # the comment stays above it
    prompt = scripted.bodies("/v1/chat/completions")[0]["messages"][1]["content"]
    assert prompt.count("return 0.0 for an empty list") == 1  # the user's words, once


async def test_a_self_evolve_instruction_without_a_function_writes_one_below(client, scripted):
    scripted.set_script(script(code=ADD, tests=ADD_TESTS))
    text = "# 自我演化: write a function that adds two numbers\n"
    editor = new_editor(client, "adder.py", text)
    [action] = await actions_at(client, editor.uri, 0)  # no function here to self-evolve
    assert action.title == "Generate code from this instruction"
    result = await command(
        client,
        "evoselfcode.generateFromInstruction",
        {"uri": editor.uri, "position": {"line": 0, "character": 2}},
    )
    assert result["ok"], result["reason"]
    assert result["original"] == "" and result["functionName"] == "add"
    end = {"line": 0, "character": len(text.rstrip("\n"))}
    assert result["range"] == {"start": end, "end": end}
    answer = await command(client, "evoselfcode.acceptEvolution", {"id": result["id"]})
    assert answer["recorded"]
    assert editor.apply_edit(get_converter().structure(result["edit"], types.WorkspaceEdit))
    assert editor.text == text.rstrip("\n") + "\n" + ADD.rstrip("\n") + "\n"


async def test_bad_requests_get_clear_errors(client):
    notes = new_editor(client, "notes.md", "def f():\n    pass\n", "markdown")
    with pytest.raises(JsonRpcException) as error:
        await evolve(client, notes.uri, line=1)
    assert error.value.code == REQUEST_FAILED and "Python functions" in error.value.message

    huge = new_editor(client, "huge.py", "def f():\n" + "    x = 1  # padding\n" * 3000)
    selection = {"start": {"line": 0, "character": 0}, "end": {"line": 3000, "character": 0}}
    with pytest.raises(JsonRpcException) as error:
        await command(client, "evoselfcode.selfEvolve", {"uri": huge.uri, "range": selection})
    assert error.value.code == REQUEST_FAILED and "select one function" in error.value.message

    big = new_editor(client, "big.py", "def f():\n" + "# pad\n" * 200_000)
    with pytest.raises(JsonRpcException) as error:
        await evolve(client, big.uri, line=0)
    assert "self-evolve works in files of at most" in error.value.message
    assert await actions_at(client, big.uri, 0) == []  # too big to search on every keystroke

    with pytest.raises(JsonRpcInvalidParams):
        await command(client, "evoselfcode.selfEvolve", {"position": {"line": 0, "character": 0}})
    with pytest.raises(JsonRpcInvalidParams):
        await evolve(client, new_editor(client).uri, line=999)
    with pytest.raises(JsonRpcException) as error:
        await evolve(client, "file:///never/opened.py")
    assert "is not open" in error.value.message
    with pytest.raises(JsonRpcInvalidParams) as error:
        await command(client, "evoselfcode.setApiKeys", {"generator": 12345})
    assert "12345" not in error.value.message
    status = await command(client, "evoselfcode.status", {})
    assert status["state"] == "ready"  # still serving


async def test_the_status_shows_the_isolation_of_the_sandbox(client):
    from evaluation.sandbox import Sandbox

    sent = await wait_for(
        lambda: next((s for s in client.statuses if "sandbox" in s), None), what="sandbox"
    )
    with Sandbox(workers=1) as same_host:
        expected = same_host.isolation
    assert sent["sandbox"]["level"] == expected.level
    assert sent["sandbox"]["description"] == expected.describe()
    asked = await command(client, "evoselfcode.status")
    assert asked["sandbox"] == sent["sandbox"]


async def test_training_data_shows_the_store(client):
    before = record_count(client)
    with TrainingStore.in_data_dir(client.data_dir, decontaminator=Decontaminator([])) as store:
        for factor in (2, 3):  # two pairs of this test's own (names no other test uses)
            name = f"scale_{uuid.uuid4().hex}"
            code = f"def {name}(x):\n    return {factor} * x\n"
            assert store.add(RecordDraft(f"Write {name}(x).", code, source="editor")).recorded
    data = await command(client, "evoselfcode.trainingData", {})
    assert Path(data["path"]) == client.data_dir / "training" / "pairs.jsonl"
    assert data["records"] == record_count(client) == before + 2
    assert data["bySource"] == {"editor": data["records"]}
