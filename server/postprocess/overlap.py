"""Overlap between a completion and the text already after the cursor.

Editors auto-close brackets and quotes, and models like to write the line that is already
below the cursor: inserted as is, both give ``foo(x))`` or a repeated ``return x``.
"""

from __future__ import annotations

from server.postprocess.indent import is_blank

# Characters that may follow the cursor without making the completion single-line.
CLOSERS = frozenset(")]}\"'`:;,")


def has_real_text(line_suffix: str) -> bool:
    """True when the rest of the line holds more than closing brackets, quotes and spaces."""
    return any(char not in CLOSERS and not char.isspace() for char in line_suffix)


def trim_line_suffix_overlap(text: str, line_suffix: str) -> str:
    """Drop the end of a one-line ``text`` that the rest of the line already has."""
    rest = line_suffix.strip()
    if not rest:
        return text
    if text.rstrip().endswith(rest):
        return text.rstrip()[: -len(rest)]
    for size in range(len(rest), 0, -1):
        head = rest[:size]
        if all(char in CLOSERS for char in head) and text.endswith(head):
            return text[:-size]
    return text


def fit_to_line_suffix(text: str, line_suffix: str) -> tuple[str, int]:
    """(text, characters after the cursor it replaces) for closers-only rests of the line.

    A multi-line completion whose first line already ends with those closers replaces them;
    one that does not would leave them after its last line, so it is cut to its first line.
    """
    rest = line_suffix.strip()
    if not rest:
        return text, 0
    first, newline, _ = text.partition("\n")
    if not newline:
        return trim_line_suffix_overlap(text, line_suffix), 0
    if first.rstrip().endswith(rest):
        return text, len(line_suffix)
    return trim_line_suffix_overlap(first, line_suffix), 0


def drop_lines_repeating_suffix(text: str, suffix_lines: list[str], whole_lines: bool) -> str:
    """Drop the completion's last lines when they equal the next non-blank lines below.

    ``whole_lines``: the completion starts at a line start (only whitespace before the
    cursor), so its first line may count as a repeated line too.
    """
    lines = text.split("\n")
    following = [line.strip() for line in suffix_lines if not is_blank(line)]
    first = 0 if whole_lines else 1
    for size in range(min(len(lines) - first, len(following)), 0, -1):
        tail = [line.strip() for line in lines[-size:]]
        if tail == following[:size]:
            return "\n".join(lines[:-size])
    return text
