"""Single-line fill-in-the-middle holes cut from real source files, and how a completion of one
is scored: exact match, edit similarity (as CrossCodeEval reports it) and whether the file
still parses with the completion in place.

A hole is one line of code (not blank, not only a comment, not inside a docstring). The cursor
sits after the line's indentation, as it does when a person starts typing the line: the prefix
is the text before it (at most ``max_prefix`` characters, cut at a line start), the hidden
middle is the rest of the line, the suffix is the text from the line's end (at most
``max_suffix`` characters, cut at a line end). Holes are drawn with a seeded generator, so the
same files and seed give the same holes on every machine.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import random
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from evaluation.infill import exact_match, single_line

MAX_PREFIX_CHARS = 1500
MAX_SUFFIX_CHARS = 500
_CODE_TOKENS = {tokenize.NAME, tokenize.NUMBER, tokenize.OP}


@dataclass(frozen=True)
class LineHole:
    file: str  # as the caller named it (a label, not necessarily a path on this machine)
    line: int  # 1-based
    prefix: str
    middle: str  # the hidden text: the line without its indentation and its newline
    suffix: str
    parses: bool  # whether the whole original file parses (then a completion must keep it so)
    before: str  # the file's text before the prefix window: with prefix+middle+suffix+after,
    after: str  # the whole file, for the parse check


@dataclass(frozen=True)
class HoleScore:
    exact: bool
    edit_similarity: float
    nonempty: bool
    keeps_parsing: bool

    @property
    def valid_nonempty(self) -> bool:
        return self.nonempty and self.keeps_parsing


def code_lines(text: str) -> list[int]:
    """1-based numbers of the lines where a code token (name, number, operator) starts; empty
    when the text does not tokenize."""
    lines: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in _CODE_TOKENS:
                lines.add(token.start[0])
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    return sorted(lines)


def holes_in(
    label: str,
    text: str,
    *,
    max_prefix: int = MAX_PREFIX_CHARS,
    max_suffix: int = MAX_SUFFIX_CHARS,
) -> list[LineHole]:
    """Every candidate hole of one file, in line order."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    parses = _parses(text)
    holes = []
    for number in code_lines(text):
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        indent = len(body) - len(body.lstrip())
        middle = body[indent:].rstrip()
        if len(middle) < 2:  # a lone bracket or colon is not a line worth predicting
            continue
        cursor = starts[number - 1] + indent
        line_end = starts[number - 1] + len(body)
        hole = hole_at(label, text, cursor, line_end, parses, max_prefix, max_suffix)
        holes.append(dataclasses.replace(hole, middle=middle))
    return holes


def hole_at(
    label: str,
    text: str,
    cursor: int,
    end: int,
    parses: bool | None = None,
    max_prefix: int = MAX_PREFIX_CHARS,
    max_suffix: int = MAX_SUFFIX_CHARS,
) -> LineHole:
    """The hole of ``text[cursor:end]`` (one line's worth: ``end`` at or before its line end),
    with the prefix and suffix windows cut at line boundaries as ``holes_in`` cuts them;
    ``parses`` (whether ``text`` parses) is computed when not given."""
    prefix_start = _line_start_within(text, cursor, max_prefix)
    suffix_end = _line_end_within(text, end, max_suffix)
    return LineHole(
        file=label,
        line=text.count("\n", 0, cursor) + 1,
        prefix=text[prefix_start:cursor],
        middle=text[cursor:end],
        suffix=text[end:suffix_end],
        parses=_parses(text) if parses is None else parses,
        before=text[:prefix_start],
        after=text[suffix_end:],
    )


def draw_holes(files: Iterable[tuple[str, str]], count: int, seed: int = 0) -> list[LineHole]:
    """``count`` holes drawn without replacement from all files' candidates, in file order."""
    pool = [hole for label, text in files for hole in holes_in(label, text)]
    if len(pool) < count:
        raise ValueError(f"the files hold {len(pool)} candidate lines, fewer than {count}")
    chosen = random.Random(seed).sample(range(len(pool)), count)
    return [pool[i] for i in sorted(chosen)]


def read_files(paths: Iterable[tuple[str, Path]]) -> list[tuple[str, str]]:
    """(label, text) of each readable UTF-8 file; others are skipped (the count says so)."""
    files = []
    for label, path in paths:
        try:
            files.append((label, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return files


def edit_similarity(prediction: str, reference: str) -> float:
    """1 - Levenshtein distance / the longer length (1.0 for two empty strings)."""
    if not prediction and not reference:
        return 1.0
    return 1.0 - levenshtein(prediction, reference) / max(len(prediction), len(reference))


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def score(hole: LineHole, completion: str) -> HoleScore:
    """Score a model's output for ``hole``: only its first line is inserted."""
    inserted = single_line(completion).rstrip("\n").rstrip()
    whole = hole.before + hole.prefix + inserted + hole.suffix + hole.after
    return HoleScore(
        exact=exact_match(completion, hole.middle),
        edit_similarity=edit_similarity(inserted.strip(), hole.middle.strip()),
        nonempty=bool(inserted.strip()),
        keeps_parsing=_parses(whole) == hole.parses,
    )


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _line_start_within(text: str, end: int, limit: int) -> int:
    """The earliest line start at or after ``end - limit`` (``end`` itself at worst)."""
    start = max(0, end - limit)
    if start == 0:
        return 0
    newline = text.find("\n", start - 1, end)
    return end if newline < 0 else newline + 1


def _line_end_within(text: str, start: int, limit: int) -> int:
    """The latest line end (after its newline) at or before ``start + limit``."""
    stop = min(len(text), start + limit)
    if stop == len(text):
        return stop
    newline = text.rfind("\n", start, stop)
    return start if newline < 0 else newline + 1
