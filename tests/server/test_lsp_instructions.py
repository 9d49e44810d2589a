"""Instruction to code over LSP: the code action, the command, applyEdit, follow-ups.

The instruct model is the endless smoke model (RANDOM WEIGHTS), greedy so it is repeatable:
its "code" is a junk line.
The client here plays the editor: it applies ``workspace/applyEdit`` to its copy of the
document and reports the change back with ``didChange``, as VS Code does.

The tests share one server; each writes in a document of its own (``new_editor``), and a test
about a follow-up first has the conversation it follows up. The test that raises the token
limit puts it back. Any order passes, each test alone too.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.server.conftest import SERVER, plain, ready_session, wait_for
from tests.server.editor import Editor, decode_code_actions_with_commands

pytestmark = pytest.mark.asyncio(loop_scope="module")

REQUEST_FAILED = -32803
SOURCE = "import math\n\n# write a function that adds two numbers\n"
INSTRUCTION_LINE = 2
FOLLOW_UP = "# now make it subtract instead\n"
MAX_TOKENS = 12
DOCUMENTS = itertools.count()  # numbers the documents of ``new_editor``


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, endless_model_dir, tmp_path_factory):
    decode_code_actions_with_commands(lsp_client)
    settings = {
        "model": str(endless_model_dir),
        "device": "cpu",
        "chat": {"model": str(endless_model_dir), "maxTokens": MAX_TOKENS, "temperature": 0},
    }
    async with ready_session(lsp_client, tmp_path_factory.mktemp("ws") / "instruct", settings):
        lsp_client.editors = {}  # type: ignore[attr-defined]
        lsp_client.feature(types.WORKSPACE_APPLY_EDIT)(
            lambda ls, params: lsp_client.editors[edited_uri(params)].apply(params)
        )
        yield


def edited_uri(params: types.ApplyWorkspaceEditParams) -> str:
    [change] = params.edit.document_changes or ()
    return change.text_document.uri


def new_editor(client: LanguageClient, text: str = SOURCE) -> Editor:
    """A document of this test's own, opened; the client applies the server's edits to it."""
    uri = (client.workspace_dir / f"adder-{next(DOCUMENTS)}.py").as_uri()
    editor = client.editors[uri] = Editor(client, uri, text)
    return editor


async def code_actions(client: LanguageClient, editor: Editor, line: int, character: int = 0):
    position = types.Position(line=line, character=character)
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=editor.uri),
            range=types.Range(start=position, end=position),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )


async def run_action(client: LanguageClient, action: types.CodeAction) -> dict:
    assert action.command is not None
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments
        )
    )
    return plain(result)


async def generate_below_the_comment(client: LanguageClient, editor: Editor) -> dict:
    """Run the code action on ``SOURCE``'s instruction comment: the first turn."""
    [action] = await code_actions(client, editor, INSTRUCTION_LINE, 5)
    return await run_action(client, action)


async def test_a_comment_offers_the_action_and_code_lands_below_it(client):
    editor = new_editor(client)
    assert await code_actions(client, editor, 0) == ()  # not a comment, nothing selected
    [action] = await code_actions(client, editor, INSTRUCTION_LINE, 5)
    assert action.title == "Generate code from this instruction"
    assert action.kind == types.CodeActionKind.RefactorRewrite
    known = set(client.progress_reports)
    result = await run_action(client, action)
    assert result["applied"] is True
    assert result["followUp"] is False and result["turns"] == 1
    code = result["code"]
    assert code.strip() and "<|" not in code
    assert editor.text == SOURCE.rstrip("\n") + "\n" + code + "\n"
    progress = [
        v for t, values in client.progress_reports.items() if t not in known for v in values
    ]
    assert isinstance(progress[0], types.WorkDoneProgressBegin)
    assert isinstance(progress[-1], types.WorkDoneProgressEnd)


async def test_a_follow_up_comment_on_the_generated_code_continues_the_conversation(client):
    editor = new_editor(client)
    first = await generate_below_the_comment(client, editor)  # the conversation to continue
    assert first["applied"] is True and first["turns"] == 1
    code = editor.text[len(SOURCE) :].rstrip("\n")
    editor.replace_all(editor.text + FOLLOW_UP)
    follow_line = editor.text.count("\n") - 1
    [action] = await code_actions(client, editor, follow_line)
    result = await run_action(client, action)
    assert result["applied"] is True
    assert result["followUp"] is True and result["turns"] == 2
    assert code not in editor.text or code == result["code"]  # the old code was replaced
    assert editor.text.startswith(SOURCE)
    assert editor.text.endswith(result["code"] + "\n" + FOLLOW_UP)


async def test_a_new_conversation_starts_over(client):
    editor = new_editor(client)
    first = await generate_below_the_comment(client, editor)
    assert first["applied"] is True
    editor.replace_all(editor.text + FOLLOW_UP)  # would continue that conversation...
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="evoselfcode.newConversation")
    )  # ...but not after this
    follow_line = editor.text.count("\n") - 1
    [action] = await code_actions(client, editor, follow_line)
    result = await run_action(client, action)
    assert result["followUp"] is False and result["turns"] == 1


async def test_an_instruction_given_as_an_argument_and_a_stale_edit(client):
    editor = new_editor(client)
    editor.replace_all(editor.text + "x = 1\n")
    line = editor.text.count("\n") - 1
    result = plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="evoselfcode.generateFromInstruction",
                arguments=[
                    {
                        "uri": editor.uri,
                        "position": {"line": line, "character": 0},
                        "instruction": "print x",
                        "newConversation": True,
                    }
                ],
            )
        )
    )
    assert result["applied"] is True
    assert editor.text.split("\n")[line + 1] == result["code"]


async def change_chat_max_tokens(client: LanguageClient, count: int) -> None:
    """Set ``chat.maxTokens`` and wait until the server took it in."""
    client.set_configuration({"chat": {"maxTokens": count}}, section="evoselfcode")
    mark = len(client.log_messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for(
        lambda: any("chat.maxTokens" in m.message for m in client.log_messages[mark:]),
        what="the new chat settings",
    )


async def test_cancelling_the_progress_bar_stops_the_instruct_model(client):
    editor = new_editor(client)
    await change_chat_max_tokens(client, 2048)
    try:
        known = set(client.progress_reports)
        command = asyncio.ensure_future(
            client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="evoselfcode.generateFromInstruction",
                    arguments=[
                        {
                            "uri": editor.uri,
                            "position": {"line": 0, "character": 0},
                            "instruction": "write a very long module",
                            "newConversation": True,
                        }
                    ],
                )
            )
        )
        token = await wait_for(
            lambda: next((t for t in client.progress_reports if t not in known), None),
            what="the progress bar",
        )
        await asyncio.sleep(0.2)  # some tokens in
        client.protocol.notify(
            types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token)
        )
        with pytest.raises(JsonRpcException) as error:
            await command  # would otherwise write 2048 tokens and succeed
        assert error.value.code == REQUEST_FAILED and "cancelled" in error.value.message
        assert isinstance(client.progress_reports[token][-1], types.WorkDoneProgressEnd)
    finally:
        await change_chat_max_tokens(client, MAX_TOKENS)
