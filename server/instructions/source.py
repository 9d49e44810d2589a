"""Where an instruction is written: the comment under the cursor, or the selection.

The generated code goes on the line after the instruction, indented like it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.documents import LineDocument, line_text
from server.errors import InstructionError

COMMENT = re.compile(r"^\s*#")
SELF_EVOLVE = re.compile(r"自我演化|self[-_ ]?evolve", re.IGNORECASE)
MAX_INSTRUCTION_CHARS = 8000


@dataclass(frozen=True)
class InstructionSource:
    instruction: str
    first_line: int  # the instruction's lines in the document
    last_line: int
    indent: str  # leading whitespace of its first line: the generated code's indentation


def is_self_evolve(instruction: str) -> bool:
    """The prototype's switch: instructions naming self-evolution go to generator + verifier."""
    return bool(SELF_EVOLVE.search(instruction))


def is_comment(line: str) -> bool:
    return bool(COMMENT.match(line))


def _strip_comment(line: str) -> str:
    return re.sub(r"^\s*#+\s?", "", line).rstrip()


def _read(lines: list[str]) -> str:
    if all(is_comment(line) for line in lines if line.strip()):
        lines = [_strip_comment(line) for line in lines]
    text = "\n".join(line.rstrip() for line in lines).strip()
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise InstructionError(
            f"the instruction is {len(text)} characters long; select at most "
            f"{MAX_INSTRUCTION_CHARS} (the local model's context is small)"
        )
    return text


def comment_block(document: LineDocument, line: int) -> tuple[int, int] | None:
    """The run of comment lines around ``line``, or None when ``line`` is no comment."""
    if not is_comment(line_text(document, line)):
        return None
    first = last = line
    while first > 0 and is_comment(line_text(document, first - 1)):
        first -= 1
    while last + 1 < len(document.lines) and is_comment(line_text(document, last + 1)):
        last += 1
    return first, last


def instruction_at(document: LineDocument, start_line: int, end_line: int) -> InstructionSource:
    """The instruction at a cursor (start == end: its comment block) or a selection of lines."""
    if start_line == end_line:
        block = comment_block(document, start_line)
        if block is None:
            raise InstructionError(
                "put the cursor on a comment that says what to write, or select the instruction"
            )
        start_line, end_line = block
    lines = [line_text(document, n) for n in range(start_line, end_line + 1)]
    instruction = _read(lines)
    if not instruction:
        raise InstructionError("the comment or selection is empty: write the instruction first")
    first = lines[0]
    return InstructionSource(
        instruction=instruction,
        first_line=start_line,
        last_line=end_line,
        indent=first[: len(first) - len(first.lstrip())],
    )
