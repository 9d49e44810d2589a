"""Reading the generator's reply, and checking the new signature against the old one."""

from __future__ import annotations

import pytest

from evolution.evolve.parse import parse_reply
from evolution.evolve.signature import find_function, incompatibility

CODE = "def area(w, h):\n    return w * h\n"
TESTS = "assert area(2, 3) == 6\n"


def test_the_asked_for_format_with_prose_around():
    text = (
        "Sure! Here is a better version:\n\n"
        f"```python\n# improved\n{CODE}```\n\nAnd the tests:\n\n```python\n# tests\n{TESTS}```\n"
        "This handles every case."
    )
    parsed = parse_reply(text, "area")
    assert parsed.code == CODE and parsed.tests == "# tests\n" + TESTS
    assert parsed.problem is None and parsed.name == "area"


def test_no_code_at_all():
    parsed = parse_reply("I cannot help with that, the function is already perfect.", "area")
    assert parsed.code is None and parsed.problem == "the generator's reply holds no code"


def test_only_other_languages_is_no_code():
    parsed = parse_reply("```bash\npip install numpy\n```\n", "area")
    assert parsed.code is None
    assert "ignored blocks in other languages: bash" in parsed.notes


def test_several_blocks_prefer_the_labelled_one_else_the_last():
    old = "def area(w, h):\n    return 0\n"
    labelled = f"```python\n# improved\n{CODE}```\n```python\n{old}```\n```python\n{TESTS}```"
    parsed = parse_reply(labelled, "area")
    assert parsed.code == CODE and parsed.tests == TESTS
    assert any("labelled improved" in note for note in parsed.notes)
    unlabelled = (
        f"Before:\n```python\n{old}```\nAfter:\n```python\n{CODE}```\n```python\n{TESTS}```"
    )
    assert parse_reply(unlabelled, "area").code == CODE


def test_code_and_tests_in_one_block_are_split():
    block = (
        "import math\n\n"
        f"{CODE}\n"
        "def test_area():\n    assert area(1, 1) == 1\n\n"
        "assert area(2, 2) == 4\n"
        "print(area(3, 3))\n"
        "if __name__ == '__main__':\n    test_area()\n"
    )
    parsed = parse_reply(f"```python\n{block}```", "area")
    assert parsed.code == f"import math\n\n{CODE}"
    assert parsed.tests is not None
    assert "def test_area" in parsed.tests and "assert area(2, 2) == 4" in parsed.tests
    assert "__main__" in parsed.tests and "print" not in parsed.tests
    assert any("split them off" in note for note in parsed.notes)
    assert any("dropped top-level statements" in note for note in parsed.notes)


def test_bare_code_without_fences():
    assert parse_reply(CODE + "\n" + TESTS, "area").code == CODE
    with_prose = f"The answer is below.\n{CODE}"
    parsed = parse_reply(with_prose, "area")
    assert parsed.code == CODE and "no fenced blocks" in parsed.notes[0]


def test_a_renamed_function_is_rejected_with_both_names():
    parsed = parse_reply(f"```python\n{CODE.replace('area', 'rect_area')}```", "area")
    assert parsed.code is None
    assert parsed.problem == (
        "the generator's code does not define `area` (it defines `rect_area`): "
        "a renamed function would break its callers"
    )


def test_a_reply_cut_off_inside_its_block_is_noted():
    parsed = parse_reply(f"```python\n# improved\n{CODE}", "area")
    assert parsed.code == CODE
    assert "not closed" in parsed.notes[0]


def test_broken_code_still_counts_as_the_function_for_the_syntax_gate():
    parsed = parse_reply("```python\ndef area(w, h:\n    return w * h\n```", "area")
    assert parsed.code == "def area(w, h:\n    return w * h\n" and parsed.problem is None


def test_a_method_is_taken_out_of_a_rewritten_class():
    text = (
        "```python\nclass Stack(list):\n    def push(self, item):\n        self.append(item)\n\n"
        "    def peek(self):\n        return self[-1] if self else None\n```\n"
        "```python\n# tests\ns = Stack()\nassert s.peek() is None\n```"
    )
    parsed = parse_reply(text, "peek", is_method=True)
    assert parsed.code == "def peek(self):\n    return self[-1] if self else None\n"
    assert parsed.tests is not None and "s.peek()" in parsed.tests


def test_a_new_function_is_named_by_the_reply():
    parsed = parse_reply(f"```python\n# improved\n{CODE}```\n```python\n{TESTS}```", None)
    assert parsed.name == "area" and parsed.code == CODE


COMPATIBLE = [
    ("def f(a, b): pass", "def f(a, b, c=1): pass"),
    ("def f(a, b=2): pass", "def f(a, b=3): pass"),
    ("def f(a, *args): pass", "def f(a, *args, flag=False): pass"),
    ("def f(a, *, key=None): pass", "def f(a, key=None): pass"),
    ("def f(a, /, b): pass", "def f(x, /, b): pass"),  # positional-only may be renamed
    ("def f(a, **kw): pass", "def f(a, b=None, **kw): pass"),
    ("def f(a): pass", "def f(a: int) -> int: pass"),
]
BROKEN = [
    ("def f(a, b): pass", "def f(a): pass", "parameter `b` of `f` is gone"),
    ("def f(a, b): pass", "def f(a, c): pass", "was `b` and is now `c`"),
    ("def f(a, b=2): pass", "def f(a, b): pass", "lost its default"),
    ("def f(a): pass", "def f(a, b): pass", "new parameter `b` of `f` needs a default"),
    ("def f(a, *args): pass", "def f(a): pass", "no longer takes *args"),
    ("def f(a, **kw): pass", "def f(a): pass", "no longer takes **kw"),
    ("def f(a, *, k): pass", "def f(a): pass", "keyword parameter `k` of `f` is gone"),
    ("def f(a): pass", "def f(a, *, k): pass", "new keyword parameter `k`"),
    ("async def f(a): pass", "def f(a): pass", "was async"),
]


@pytest.mark.parametrize(("old", "new"), COMPATIBLE)
def test_compatible_signatures_pass(old, new):
    old_node, new_node = find_function(old, "f"), find_function(new, "f")
    assert old_node is not None and new_node is not None
    assert incompatibility(old_node, new_node) is None


@pytest.mark.parametrize(("old", "new", "message"), BROKEN)
def test_incompatible_signatures_say_why(old, new, message):
    old_node, new_node = find_function(old, "f"), find_function(new, "f")
    assert old_node is not None and new_node is not None
    problem = incompatibility(old_node, new_node)
    assert problem is not None and message in problem


def test_methods_may_rename_self_but_not_change_kind():
    old = find_function("def m(self, x): pass", "m")
    assert old is not None
    renamed_self = find_function("def m(this, x): pass", "m")
    assert renamed_self is not None and incompatibility(old, renamed_self, is_method=True) is None
    static = find_function("@staticmethod\ndef m(self, x): pass", "m")
    assert static is not None
    assert "staticmethod" in (incompatibility(old, static, is_method=True) or "")


def test_a_new_function_with_a_helper_is_named_by_what_the_tests_call():
    code = "def _clean(s):\n    return s.strip()\n\n\ndef slug(s):\n    return _clean(s).lower()\n"
    parsed = parse_reply(f"```python\n{code}```\n```python\nassert slug(' A ') == 'a'\n```", None)
    assert parsed.name == "slug"
