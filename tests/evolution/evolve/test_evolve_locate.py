"""Finding the function: cursor, selection, methods, decorators, nesting, half-typed code."""

from __future__ import annotations

import pytest

from evolution.evolve import FunctionNotFound, Position, Range, build_instruction, locate_function

SOURCE = '''import os
import re as regex
from typing import List

LIMIT = 10


def helper(x):
    return x * LIMIT


class Stack(list):
    """A stack."""

    def push(self, item):
        self.append(item)

    # 自我演化：处理空栈
    @property
    @other(1)
    def peek(self):
        """Top item."""
        # look at the end
        return self[-1]  # type: ignore


def outer(values: List[int]):
    def inner(v):
        return helper(v) + 1
    return [inner(v) for v in values]
'''


def line_of(text: str, source: str = SOURCE) -> int:
    return source.splitlines().index(text)


def test_cursor_in_a_method_keeps_decorators_and_the_class():
    location = locate_function(
        SOURCE, Position(line_of("        return self[-1]  # type: ignore"), 9)
    )
    assert location.name == "peek" and location.class_name == "Stack" and location.is_method
    assert location.located_by == "tree-sitter" and location.note == ""
    assert location.range.start == Position(line_of("    @property"), 0)
    end_line = line_of("        return self[-1]  # type: ignore")
    assert location.range.end == Position(end_line, len(SOURCE.splitlines()[end_line]))
    assert location.text.startswith("    @property\n    @other(1)\n    def peek(self):")
    assert location.code.startswith("@property\n@other(1)\ndef peek(self):\n")  # dedented
    assert location.indent == "    "
    assert location.docstring == "Top item."
    assert location.marker == "处理空栈"
    assert "class Stack(list):" in location.context.prompt_text(location.code, location.name)


def test_cursor_on_the_marker_comment_above_picks_the_function_below():
    location = locate_function(SOURCE, Position(line_of("    # 自我演化：处理空栈"), 2))
    assert location.name == "peek"


def test_nested_function_innermost_wins_and_the_outer_after_it():
    inner = locate_function(SOURCE, Position(line_of("        return helper(v) + 1"), 12))
    assert inner.name == "inner" and inner.class_name is None
    assert inner.context.enclosing_function == "def outer(values: List[int]):"
    outer = locate_function(SOURCE, Position(line_of("    return [inner(v) for v in values]"), 4))
    assert outer.name == "outer"


def test_a_selection_spanning_a_whole_function_picks_it():
    first = line_of("    def inner(v):")
    whole_inner = Range(Position(first, 0), Position(first + 2, 0))  # ends at column 0 below
    assert locate_function(SOURCE, whole_inner).name == "inner"
    start = line_of("def helper(x):")
    with_blank_lines = Range(Position(start - 1, 0), Position(start + 3, 0))
    assert locate_function(SOURCE, with_blank_lines).name == "helper"


def test_a_selection_over_two_functions_names_them():
    start, end = line_of("def helper(x):"), line_of("        self.append(item)")
    with pytest.raises(FunctionNotFound, match=r"several functions \(helper, push\)"):
        locate_function(SOURCE, Range(Position(start, 0), Position(end, 5)))


def test_outside_any_function_is_a_clear_error():
    with pytest.raises(FunctionNotFound, match="no function at line 5"):
        locate_function(SOURCE, Position(line_of("LIMIT = 10"), 3))


def test_context_holds_what_the_function_uses_transitively():
    location = locate_function(SOURCE, Position(line_of("        return helper(v) + 1"), 0))
    prelude = location.context.execution_prelude(location.code, location.name)
    assert "def helper(x):" in prelude and "LIMIT = 10" in prelude  # helper needs LIMIT
    assert "import os" not in prelude and "regex" not in prelude


HALF_TYPED = """import os


def done(x):
    return x


def typing_now(path:
    full = os.path.join(path, "a")
    return full
"""


def test_half_typed_code_falls_back_to_the_indented_block():
    location = locate_function(HALF_TYPED, Position(8, 6))
    assert location.name == "typing_now" and location.located_by == "indentation"
    assert "does not parse" in location.note and "line 8" in location.note
    assert location.range.start.line == 7 and location.range.end.line == 9
    assert location.code.endswith("    return full\n")
    # the rest of the file still gives context
    assert "import os" in location.context.execution_prelude(location.code, location.name)
    # and a clean function in the same broken file is still found by tree-sitter
    assert locate_function(HALF_TYPED, Position(4, 4)).located_by == "tree-sitter"


def test_half_typed_code_with_a_selection_takes_the_selection():
    location = locate_function(HALF_TYPED, Range(Position(7, 0), Position(9, 15)))
    assert location.located_by == "selection" and location.name == "typing_now"
    assert location.range.start.line == 7 and location.range.end.line == 9


def test_crlf_documents_keep_their_line_ends_and_detect_staleness():
    source = "def f(x):\r\n    return x\r\n\r\ndef g():\r\n    pass\r\n"
    location = locate_function(source, Position(1, 4))
    assert location.text == "def f(x):\r\n    return x" and location.newline == "\r\n"
    assert location.code == "def f(x):\n    return x\n"
    assert location.reindent("def f(x):\n    return -x\n") == "def f(x):\r\n    return -x"
    assert location.matches(source)
    assert not location.matches(source.replace("return x", "return 2 * x"))


def test_instruction_gathers_docstring_comments_and_the_users_words():
    location = locate_function(SOURCE, Position(line_of("        # look at the end"), 8))
    instruction = build_instruction(location, "raise IndexError with a clear message")
    assert instruction.signature == "peek(self)"
    assert instruction.user_words == "raise IndexError with a clear message; 处理空栈"
    assert instruction.comments == ("look at the end",)  # the marker and `type: ignore` left out
    assert (
        instruction.text.splitlines()[0] == "Write the Python method `peek(self)` of class `Stack`."
    )
    assert "Top item." in instruction.text and "处理空栈" in instruction.text


def test_an_english_marker_inside_the_function_gives_the_words():
    source = (
        "def merge(a: list[int], b: list[int] = None, *rest, k=1, **kw) -> list[int]:\n"
        "    # self-evolve: use a linear merge\n"
        "    return sorted(a + b)  # noqa: E501\n"
    )
    location = locate_function(source, Position(2, 4))
    instruction = build_instruction(location)
    assert location.marker == "use a linear merge"
    assert (
        instruction.signature
        == "merge(a: list[int], b: list[int]=None, *rest, k=1, **kw) -> list[int]"
    )
    assert "Requirements: use a linear merge" in instruction.text
    assert "noqa" not in instruction.text


def test_with_nothing_to_go_on_the_instruction_asks_to_keep_behaviour():
    location = locate_function("def f(x):\n    return x + 1\n", Position(0, 0))
    text = build_instruction(location).text
    assert text.startswith("Write the Python function `f(x)`.")
    assert "Keep what it does now" in text
