"""Single-line FIM holes cut from source files, and how completions of them are scored."""

from __future__ import annotations

import ast

import pytest

from evaluation.line_holes import (
    code_lines,
    draw_holes,
    edit_similarity,
    holes_in,
    levenshtein,
    score,
)

SOURCE = '''"""A module docstring
that spans lines."""

import os


def join_all(parts, sep=", "):
    # a comment line is no hole
    """Join the parts."""
    text = sep.join(parts)
    return text.strip()


class Box:
    size = 3
'''


def test_holes_are_code_lines_with_the_cursor_after_the_indentation():
    holes = holes_in("m.py", SOURCE)
    middles = [h.middle for h in holes]
    assert middles == [
        "import os",
        'def join_all(parts, sep=", "):',
        "text = sep.join(parts)",
        "return text.strip()",
        "class Box:",
        "size = 3",
    ]
    for hole in holes:
        assert hole.before + hole.prefix + hole.middle + hole.suffix + hole.after == SOURCE
        assert hole.suffix.startswith("\n") and hole.parses
    text = next(h for h in holes if h.middle == "text = sep.join(parts)")
    assert text.prefix.endswith('"""Join the parts."""\n    ') and text.line == 10


def test_prefix_and_suffix_are_cut_at_line_boundaries_within_their_limits():
    source = "".join(f"value_{i} = {i}\n" for i in range(400))
    hole = holes_in("big.py", source, max_prefix=100, max_suffix=40)[200]
    assert len(hole.prefix) <= 100 and len(hole.suffix) <= 40
    assert hole.prefix.startswith("value_") and hole.before.endswith("\n")
    assert hole.suffix.endswith("\n") and hole.after.startswith("value_")


def test_draws_are_deterministic_per_seed_and_refuse_too_few_lines():
    files = [(f"f{i}.py", SOURCE) for i in range(5)]
    first = draw_holes(files, 12, seed=3)
    assert [(h.file, h.line) for h in first] == [(h.file, h.line) for h in draw_holes(files, 12, 3)]
    assert [(h.file, h.line) for h in first] != [(h.file, h.line) for h in draw_holes(files, 12, 4)]
    assert len({(h.file, h.line) for h in first}) == 12
    with pytest.raises(ValueError, match="30 candidate lines, fewer than 31"):
        draw_holes(files, 31)


def test_a_file_that_does_not_tokenize_has_no_holes():
    assert code_lines('x = """never closed\n') == []


def test_edit_similarity_is_one_minus_normalised_levenshtein():
    assert levenshtein("kitten", "sitting") == 3
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert edit_similarity("", "") == 1.0 and edit_similarity("", "abc") == 0.0


def test_score_inserts_the_first_line_and_checks_the_file_still_parses():
    hole = next(h for h in holes_in("m.py", SOURCE) if h.middle == "return text.strip()")
    exact = score(hole, "return text.strip()\n    more junk(")
    assert exact.exact and exact.edit_similarity == 1.0 and exact.valid_nonempty
    close = score(hole, "return text")
    assert not close.exact and 0.5 < close.edit_similarity < 1 and close.keeps_parsing
    broken = score(hole, "return (text")
    assert broken.nonempty and not broken.keeps_parsing and not broken.valid_nonempty
    empty = score(hole, "\n")
    assert not empty.nonempty and empty.edit_similarity == 0.0
    ast.parse(SOURCE)  # the fixture itself parses, so keeps_parsing means "still parses"
