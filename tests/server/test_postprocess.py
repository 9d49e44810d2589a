"""Golden tests for post-processing: raw model output in, the suggestion (or reason) out.

Each case is a document with the cursor at ``▮``, what the model produced, and what the
editor must receive. Deterministic: no model involved.
"""

from __future__ import annotations

import pytest
from lsprotocol import types

from server.context import InfillWindow
from server.postprocess import Filtered, PostProcessor, Suggestion
from server.postprocess.indent import detect_indent, indent_width
from server.reasons import EmptyReason

CURSOR = "▮"


def window(document: str, path: str = "pkg/mod.py") -> InfillWindow:
    prefix, suffix = document.split(CURSOR)
    line_prefix = prefix.rpartition("\n")[2]
    return InfillWindow(
        uri=f"file:///ws/{path}",
        path=path,
        repo_name="ws",
        language_id="python" if path.endswith(".py") else "plaintext",
        prefix=prefix,
        suffix=suffix,
        line_prefix=line_prefix,
        line_suffix=suffix.partition("\n")[0].rstrip("\r"),
        other_files=(),
    )


def run(document: str, raw: str, **kwargs) -> Suggestion | Filtered:
    return PostProcessor(window(document, **kwargs)).process(raw)


GOLDEN = [
    pytest.param(
        "def add(a, b):\n    ▮\n",
        "return a + b\n\ndef sub(a, b):\n    return a - b\n",
        "return a + b",
        id="block-ends-at-dedent",
    ),
    pytest.param(
        "def f(xs):\n    ▮\n",
        "total = 0\n    for x in xs:\n        total += x\n    return total\nprint(f([1]))",
        "total = 0\n    for x in xs:\n        total += x\n    return total",
        id="block-keeps-nested-body",
    ),
    pytest.param(
        "def f(x):▮\n",
        "\n    y = x * 2\n    return y\n\n\nclass A:\n    pass",
        "\n    y = x * 2\n    return y",
        id="opening-a-block-after-colon",
    ),
    pytest.param(
        "result = compute(▮)\nprint(result)\n",
        "a, b)\nresult2 = 3",
        "a, b",
        id="closing-bracket-overlap-removed",
    ),
    pytest.param(
        "name = ▮\n",
        "'x'<|endoftext|>def leaked(): pass",
        "'x'",
        id="cut-at-special-token",
    ),
    pytest.param(
        "value = foo(▮, y)\n",
        "x, y)\nmore()",
        "x",
        id="single-line-when-text-follows",
    ),
    pytest.param(
        "items = [▮]\n",
        "1, 2, 3]",
        "1, 2, 3",
        id="bracket-overlap-single",
    ),
    pytest.param(
        "def f():\n    x = 1\n    ▮\n    return x\n",
        "y = 2\n    return x",
        "y = 2",
        id="repeated-next-line-removed",
    ),
    pytest.param(
        "def f():\n\tif True:\n\t\t▮\n",
        "a = 1\n        b = 2\n\treturn a",
        "a = 1\n\t\tb = 2",
        id="spaces-become-tabs-in-a-tab-file",
    ),
    pytest.param(
        "def f():\n    if True:\n        ▮\n",
        "a = 1\n\t\tb = 2\n\treturn a",
        "a = 1\n        b = 2",
        id="tabs-become-spaces-in-a-space-file",
    ),
    pytest.param(
        "def f():\r\n    ▮\r\n",
        "x = 1\n    return x\n",
        "x = 1\r\n    return x",
        id="crlf-documents-get-crlf",
    ),
    pytest.param(
        "call(\n    a,\n    ▮\nprint(1)\n",
        "b,\n    c,\n)\nprint(2)",
        "b,\n    c,\n)",
        id="closing-line-ends-the-block",
    ),
    pytest.param(
        "def f(▮):\n",
        "x, y):\n    return x + y\n",
        "x, y):\n    return x + y",
        id="multi-line-replaces-closers-on-the-line",
    ),
]


@pytest.mark.parametrize(("document", "raw", "expected"), GOLDEN)
def test_golden(document, raw, expected):
    result = run(document, raw)
    assert isinstance(result, Suggestion), result
    assert result.text == expected


def test_replacing_the_rest_of_the_line_says_how_much():
    result = run("def f(▮):\n", "x, y):\n    return x + y\n")
    assert result == Suggestion("x, y):\n    return x + y", replace_after=2)
    assert run("items = [▮]\n", "1, 2, 3]") == Suggestion("1, 2, 3", replace_after=0)


@pytest.mark.parametrize(
    ("document", "raw", "reason"),
    [
        ("x = ▮\n", "   \n\n", EmptyReason.FILTERED_EMPTY),
        ("x = ▮\n", "<|fim_pad|><|fim_pad|>", EmptyReason.FILTERED_SPECIAL_TOKENS),
        ("x = ▮\n", "\n1", EmptyReason.FILTERED_EMPTY),
        ("foo(▮)\n", ")", EmptyReason.FILTERED_DUPLICATE),
        ("def f():\n    ▮\n    return x\n", "return x\n", EmptyReason.FILTERED_DUPLICATE),
        ("x = [1, 2]\n▮\ny = 3\n", ")))) ((( def", EmptyReason.FILTERED_SYNTAX),
    ],
)
def test_filtered_with_a_reason(document, raw, reason):
    result = run(document, raw)
    assert isinstance(result, Filtered)
    assert result.reason == reason
    assert result.detail


def test_syntax_check_trims_a_broken_last_line_instead_of_dropping():
    result = run("def f(x):\n    ▮\n", "y = x + 1\n    z = (y *\n")
    assert result == Suggestion("y = x + 1")


AREA = 'def area(w, h):\n    """Area of a w by h rectangle."""\n    ▮\n'
NEXT = "\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n"
STARTS_INSIDE = "        return total\n\n\n"  # the window starts in another function's body
ENDS_INSIDE = "    size = (w,\n"  # the window ends inside the function, or its code is mid-edit


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(AREA, id="body-with-a-docstring"),
        pytest.param("def area(w, h):\n    ▮\n", id="empty-body"),
        pytest.param(AREA + NEXT, id="with-a-function-below"),
        pytest.param(STARTS_INSIDE + AREA + "\n\ndef broken(:\n", id="other-statements-broken"),
        pytest.param(AREA + ENDS_INSIDE, id="broken-below-the-cursor"),
    ],
)
def test_a_block_header_without_a_body_is_dropped_where_the_code_parsed(document):
    # tree-sitter counts no error for the header. Python's parser judges the statements around
    # the cursor, whatever the window holds besides (the tail of a function, a broken one).
    result = run(document, "def inner(x):\n")
    assert isinstance(result, Filtered) and result.reason == EmptyReason.FILTERED_SYNTAX
    assert run(document, "x = w * h\n    def inner(x):\n") == Suggestion("x = w * h")


def test_a_function_header_without_a_body_is_dropped_below_a_function():
    document = "def area(w, h):\n    return w * h\n\n\n▮\n"
    result = run(document, "def perimeter(w, h):")
    assert isinstance(result, Filtered) and result.reason == EmptyReason.FILTERED_SYNTAX
    assert run(document, "def perimeter(w, h):\n    return 2 * (w + h)\n") == Suggestion(
        "def perimeter(w, h):\n    return 2 * (w + h)"
    )


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(AREA, id="body-with-a-docstring"),
        pytest.param("def area(w, h):\n    ▮\n", id="empty-body"),
        pytest.param(STARTS_INSIDE + AREA + NEXT, id="window-starts-inside-a-function"),
        pytest.param(AREA + ENDS_INSIDE, id="broken-below-the-cursor"),
    ],
)
def test_a_valid_block_is_kept_whole_where_the_code_parsed(document):
    body = "if w < 0 or h < 0:\n        raise ValueError((w, h))\n    return w * h"
    assert run(document, body + "\n") == Suggestion(body)


MID_EDIT_ABOVE = 'def area(w, h):\n    """Area."""\n    total = = 0\n    ▮\n'


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("def area(w, h):\n    size = (w,\n    ▮\n", id="in-an-open-bracket"),
        pytest.param(MID_EDIT_ABOVE, id="a-broken-line-above"),
        pytest.param('    """Area."""\n    ▮\n', id="window-starts-inside-the-function"),
    ],
)
def test_where_the_code_did_not_parse_before_tree_sitter_judges(document):
    # Python's parser cannot judge: the code around the cursor does not parse even without the
    # completion, or the window starts inside it. tree-sitter counts no more errors with the
    # completion, so it stays, as it did before Python's parser judged anywhere.
    assert run(document, "def inner(x):\n") == Suggestion("def inner(x):")


def test_where_the_code_did_not_parse_before_tree_sitter_still_trims():
    assert run(MID_EDIT_ABOVE, "y = 1\n    x = = 2\n") == Suggestion("y = 1")


def test_syntax_check_skips_non_python_files():
    assert run("text ▮\n", ")))) (((", path="notes.txt") == Suggestion(")))) (((")


def test_stop_check_stops_when_the_block_ends_not_before():
    processor = PostProcessor(window("def f():\n    ▮\n"))
    stop = processor.stop_check
    assert not stop("x = 1")
    assert not stop("x = 1\n    y = 2\n")
    assert not stop("x = 1\n    y = 2\n\n")
    assert stop("x = 1\n    y = 2\n\nd")
    single = PostProcessor(window("foo(▮, 2)\n")).stop_check
    assert not single("1")
    assert single("1\n")


def test_indent_detection():
    assert detect_indent("def f():\n  if x:\n    y\n").tab_size == 2
    assert detect_indent("def f():\n\tpass\n").use_tabs
    assert not detect_indent("def f():\n    pass\n").use_tabs
    options = types.FormattingOptions(tab_size=3, insert_spaces=False)
    assert detect_indent("    x", options).use_tabs
    assert indent_width("\t  x", 4) == 6
