"""The code in a chat answer: the first fenced block, else the whole answer."""

from __future__ import annotations

import re
import textwrap

FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(answer: str) -> str:
    """The code the user asked for. A fence left open (the answer hit max tokens) still counts;
    a Python block wins over others."""
    blocks = [(lang.lower(), body) for lang, body in FENCE.findall(answer)]
    for lang, body in blocks:
        if lang in ("python", "py", "python3"):
            return body.strip("\n").rstrip()
    if blocks:
        return blocks[0][1].strip("\n").rstrip()
    return answer.strip()


def indent_code(code: str, indent: str) -> str:
    """``code`` re-indented under ``indent`` (its own common indentation removed first)."""
    return textwrap.indent(textwrap.dedent(code), indent, lambda line: bool(line.strip()))
