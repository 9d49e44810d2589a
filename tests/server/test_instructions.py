"""Instruction to code, without a model: reading instructions, code from answers, follow-ups."""

from __future__ import annotations

import pytest
from lsprotocol import types

from server.documents import LineDocument
from server.errors import InstructionError
from server.instructions.answer import extract_code, indent_code
from server.instructions.conversation import Conversation, find_code, touches
from server.instructions.service import GenerateRequest
from server.instructions.source import instruction_at, is_self_evolve


def test_the_comment_block_under_the_cursor_is_the_instruction():
    document = LineDocument(
        "file:///a.py", "x = 1\n    # write a function\n    # that adds numbers\ny = 2\n"
    )
    source = instruction_at(document, 2, 2)
    assert source.instruction == "write a function\nthat adds numbers"
    assert (source.first_line, source.last_line, source.indent) == (1, 2, "    ")
    with pytest.raises(InstructionError, match="comment"):
        instruction_at(document, 0, 0)
    assert instruction_at(document, 0, 0 + 3).instruction.startswith("x = 1")  # a selection


def test_code_comes_from_the_python_fence_or_the_whole_answer():
    answer = "Here:\n```text\nnot this\n```\n```python\ndef f():\n    return 1\n```\nDone."
    assert extract_code(answer) == "def f():\n    return 1"
    assert extract_code("```\nx = 1\n```") == "x = 1"
    assert extract_code("```py\ncut = 'short") == "cut = 'short"  # hit max tokens
    assert extract_code("  x = 2  \n") == "x = 2"
    assert indent_code("def f():\n    pass", "    ") == "    def f():\n        pass"


def test_self_evolve_keywords():
    assert is_self_evolve("# 自我演化: speed this up")
    assert is_self_evolve("Self-Evolve this function")
    assert not is_self_evolve("evolve the API slowly")


def test_generated_code_is_found_again_and_follow_ups_must_touch_it():
    text = "# add\ndef add(a, b):\n    return a + b\n# now subtract\n"
    document = LineDocument("file:///a.py", text)
    conversation = Conversation(
        uri="file:///a.py", first_instruction="add", code="def add(a, b):\n    return a + b"
    )
    assert find_code(document, conversation) == (1, 2)
    follow = instruction_at(document, 3, 3)
    assert touches(follow, (1, 2))
    far = LineDocument("file:///b.py", text + "\n" * 5 + "# unrelated\n")
    assert not touches(instruction_at(far, 9, 9), (1, 2))
    edited = LineDocument("file:///a.py", text.replace("a + b", "a+b"))
    assert find_code(edited, conversation) is None


def test_command_arguments_are_checked():
    request = GenerateRequest.parse(
        {"uri": "file:///a.py", "position": {"line": 1, "character": 0}, "instruction": " hi "}
    )
    assert request.start == request.end == types.Position(line=1, character=0)
    assert request.instruction == "hi" and not request.new_conversation
    for bad in (None, [], {"uri": 1}, {"uri": "u"}, {"uri": "u", "position": {"line": -1}}):
        with pytest.raises(InstructionError):
            GenerateRequest.parse(bad)


def test_the_answer_says_plainly_when_the_instruct_model_is_a_small_one_trained_here():
    from types import SimpleNamespace

    from server.instructions.service import TRAINED_HERE_NOTE, ChatModelHost

    host = ChatModelHost()
    assert host.describe() == {}  # nothing loaded yet
    info = SimpleNamespace(name="evoselfcode-small-chat", random_weights=False, trained_here=True)
    host._model = SimpleNamespace(info=info)  # type: ignore[assignment]
    assert host.describe() == {
        "model": "evoselfcode-small-chat",
        "modelNote": f"evoselfcode-small-chat is {TRAINED_HERE_NOTE}",
    }
    assert "small model trained here" in TRAINED_HERE_NOTE
    info.trained_here = False  # a real instruct model: its name, no note
    assert host.describe() == {"model": "evoselfcode-small-chat"}
