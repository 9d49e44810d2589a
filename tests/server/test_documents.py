"""Documents held as lines: the same text as pygls' own after any edit, LSP line numbering,
and position checks."""

from __future__ import annotations

import random

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from server.documents import LineDocument, cursor_at, split_lines
from server.errors import DocumentError


def change(l1: int, c1: int, l2: int, c2: int, text: str):
    return types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(l1, c1), types.Position(l2, c2)), text=text
    )


def test_random_edits_give_the_same_text_as_pygls():
    rng = random.Random(7)
    base = "def f(x):\n    return x\n\nclass A:\n  pass\n"
    ours, reference = LineDocument("file:///a.py", base), TextDocument("file:///a.py", base)
    pieces = ["", "a", "\n", "xy\nz", "é😋", "\r\n", "  \n\n", "\r"]
    for _ in range(3000):
        lines = reference.source.splitlines(True) or [""]
        l1 = rng.randrange(len(lines) + 1)
        c1 = rng.randrange(len(lines[l1].rstrip("\r\n")) + 1) if l1 < len(lines) else 0
        l2 = rng.randrange(l1, min(len(lines), l1 + 3) + 1)
        c2 = rng.randrange(len(lines[l2].rstrip("\r\n")) + 1) if l2 < len(lines) else 0
        if l2 == l1:
            c2 = max(c1, c2)
        text = rng.choice(pieces)
        ours.apply_change(change(l1, c1, l2, c2, text))
        reference.apply_change(change(l1, c1, l2, c2, text))
        assert ours.source == reference.source
        assert list(ours.lines) == split_lines(ours.source)


def test_form_feeds_and_unicode_separators_do_not_break_lines():
    text = "a = 1\x0c\nb = '\u2028'\nc = 3\n"
    assert split_lines(text) == ["a = 1\x0c\n", "b = '\u2028'\n", "c = 3\n"]
    document = LineDocument("file:///ff.py", text)
    assert cursor_at(document, types.Position(line=2, character=5)).line == 2
    document.apply_change(change(2, 0, 2, 1, "d"))
    assert document.source == "a = 1\x0c\nb = '\u2028'\nd = 3\n"


def test_full_changes_and_the_edit_clock():
    document = LineDocument("file:///b.py", "x\n")
    first = document.edited_at
    document.apply_change(types.TextDocumentContentChangeWholeDocument(text="y\nz"))
    assert document.lines == ["y\n", "z"]
    assert document.edited_at >= first


@pytest.mark.parametrize(
    ("line", "character", "ok"),
    [(0, 0, True), (0, 5, True), (0, 6, False), (1, 0, True), (1, 1, False), (2, 0, False)],
)
def test_positions_are_checked_against_the_document(line, character, ok):
    document = LineDocument("file:///c.py", "x = 1\n")
    position = types.Position(line=line, character=character)
    if ok:
        assert cursor_at(document, position).line == line
    else:
        with pytest.raises(DocumentError):
            cursor_at(document, position)


def test_utf16_positions_become_code_points():
    document = LineDocument("file:///d.py", "s = '😋x'\n")
    # 😋 is two UTF-16 units: the client's character 7 is after it, code point 6.
    assert cursor_at(document, types.Position(line=0, character=7)).column == 6
