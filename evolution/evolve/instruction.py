"""The instruction for one function: what the new code must do, in words.

It is gathered from the user's words (typed in the editor, or written in a comment with the
marker 自我演化 / ``self-evolve:``, marker stripped), the docstring, and the other comments in and
above the function. The text is written as a self-contained task ("Write the Python function
`f(x)` that ...") because it becomes the ``instruct`` of the training pair, where the model
never sees the original code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from evolution.evolve.locate import FunctionLocation

# Comments that are tool directives, not descriptions.
_DIRECTIVE = re.compile(r"^(noqa|type:|pragma|pylint:|fmt:|isort:|ruff:|pyright:)", re.IGNORECASE)
_DEF = re.compile(r"^\s*(async\s+)?def\s+")
_MARKER = re.compile(r"自我演化|self-evolve:", re.IGNORECASE)


@dataclass(frozen=True)
class Instruction:
    """The task for the generator and the verifier, and the ``instruct`` of the training pair."""

    text: str
    user_words: str  # what the user asked for ("" when nothing)
    docstring: str | None
    comments: tuple[str, ...]  # the describing comments (marker comment and directives left out)
    signature: str  # e.g. "peek(self) -> int"

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "userWords": self.user_words,
            "docstring": self.docstring,
            "comments": list(self.comments),
            "signature": self.signature,
        }


def build_instruction(location: FunctionLocation, user_words: str | None = None) -> Instruction:
    """Compose the instruction for ``location``; ``user_words`` come from the editor prompt."""
    words = [w for w in ((user_words or "").strip(), location.marker or "") if w]
    wanted = "; ".join(dict.fromkeys(words))  # both, once each, the typed words first
    comments = tuple(
        c for c in location.comments if not _MARKER.search(c) and not _DIRECTIVE.match(c)
    )
    signature = function_signature(location.code, location.name)
    kind = f"method `{signature}` of class `{location.class_name}`" if location.is_method else None
    subject = kind or f"function `{signature}`"
    async_word = "async " if location.is_async else ""
    lines = [f"Write the Python {async_word}{subject}."]
    if location.docstring:
        lines.append(f"What it does (its docstring):\n{location.docstring.strip()}")
    if wanted:
        lines.append(f"Requirements: {wanted}")
    if comments:
        lines.append("Notes from its comments: " + "; ".join(comments))
    if not (location.docstring or wanted or comments):
        lines.append("Keep what it does now; make it correct on every input, clear and efficient.")
    return Instruction(
        text="\n".join(lines),
        user_words=wanted,
        docstring=location.docstring,
        comments=comments,
        signature=signature,
    )


def function_signature(code: str, name: str) -> str:
    """``name(params) -> ret`` of the function in ``code`` (from its header if it is broken)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        tree = None
    for node in tree.body if tree is not None else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            return f"{name}({ast.unparse(node.args)}){returns}"
    header = next((line for line in code.splitlines() if _DEF.match(line)), f"def {name}()")
    return _DEF.sub("", header).split("#")[0].strip().rstrip(":").strip()
