"""Extracting the code to run from a model's output without cutting valid code.

Model output ends in many ways: an end-of-text token, a test harness (``if __name__ ==
"__main__":``), example calls, prose, or half a function where the token budget ran out.
Cutting at the first blank line or at ``\\ndef`` (stop words) throws away helper functions
the solution calls. Instead:

1. cut at the first special token (``<|endoftext|>``, ``<|im_end|>``, FIM tokens...);
2. keep the longest prefix that parses, trying cuts only where a top-level statement starts;
3. of the top-level statements, keep the prompt's own, every import, and the definitions
   (functions, classes, assignments) that the entry point needs, directly or through other
   kept definitions; drop the rest (main blocks, prints, asserts, unrelated code).

Nothing inside a kept statement is ever changed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from models.tokens import QWEN_SPECIAL_TOKENS

_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:\n```|\Z)", re.DOTALL)
_PYTHON_FENCES = ("", "python", "py", "python3")
_CODE_START = re.compile(r"^(def |async def |class |import |from |@)", re.MULTILINE)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def strip_special_tokens(text: str) -> str:
    """``text`` up to its first Qwen special token."""
    cut = min((i for i in (text.find(t) for t in QWEN_SPECIAL_TOKENS) if i >= 0), default=-1)
    return text if cut < 0 else text[:cut]


def sanitize_completion(prompt: str, output: str, entry_point: str) -> str:
    """For a base model continuing ``prompt``: what to append to the prompt.

    The prompt itself is never altered; if the result would not start with it (which only
    happens when nothing after the prompt parses), the output is returned up to its first
    special token.
    """
    raw = strip_special_tokens(output)
    kept = keep_needed_code(prompt + raw, entry_point, protected=len(prompt))
    return kept[len(prompt) :] if kept.startswith(prompt) else raw


def extract_code(answer: str, entry_point: str) -> str:
    """For an instruct model's answer: the code that defines ``entry_point``.

    Prefers the fenced code block that defines it (or else the first Python block); without
    fences, starts at the first line that looks like code.
    """
    text = strip_special_tokens(answer)
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in _PYTHON_FENCES]
    if blocks:
        defining = [b for b in blocks if re.search(rf"\bdef {re.escape(entry_point)}\b", b)]
        code = (defining or blocks)[0]
    else:
        start = _CODE_START.search(text)
        code = text[start.start() :] if start else text
    return keep_needed_code(code, entry_point)


def keep_needed_code(code: str, entry_point: str, protected: int = 0) -> str:
    """The parseable part of ``code`` without top-level statements ``entry_point`` does not need.

    Statements that start in the first ``protected`` characters (the prompt) are always kept,
    verbatim, together with everything between them. Unparseable code comes back unchanged.
    """
    lines = code.splitlines(keepends=True)
    starts = _line_offsets(lines)
    prefix_lines = _longest_parseable_prefix(lines, starts, protected)
    if prefix_lines is None:
        return code
    source = "".join(lines[:prefix_lines])
    statements = ast.parse(source).body
    protected_lines = sum(1 for offset in starts[:prefix_lines] if offset < protected)
    head = [s for s in statements if _first_line(s) <= protected_lines]
    tail = [s for s in statements if _first_line(s) > protected_lines]
    needed = _needed_names(head, tail, entry_point)
    kept_tail = [s for s in tail if _keep(s, needed)]
    kept = "".join(lines[: head[-1].end_lineno]) if head else ""
    for statement in kept_tail:
        text = "".join(lines[_first_line(statement) - 1 : statement.end_lineno])
        kept += ("\n" if kept else "") + text
        kept = kept if kept.endswith("\n") else kept + "\n"
    return kept


def _line_offsets(lines: list[str]) -> list[int]:
    offsets, total = [], 0
    for line in lines:
        offsets.append(total)
        total += len(line)
    return offsets


def _longest_parseable_prefix(lines: list[str], starts: list[int], protected: int) -> int | None:
    """How many lines parse, cutting only before a top-level line after the protected part."""
    cuts = [len(lines)] + [
        i
        for i in range(len(lines) - 1, 0, -1)
        if starts[i] >= protected and lines[i][:1] not in ("", " ", "\t", "\n", "\r", "#")
    ]
    for cut in cuts:
        try:
            ast.parse("".join(lines[:cut]))
        except (SyntaxError, ValueError):
            continue
        return cut
    return None


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", [])
    return min([statement.lineno, *(d.lineno for d in decorators)])


def _defined_names(statement: ast.stmt) -> set[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    targets = statement.targets if isinstance(statement, ast.Assign) else []
    if isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _used_names(nodes: Iterable[ast.AST]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _needed_names(head: list[ast.stmt], tail: list[ast.stmt], entry_point: str) -> set[str]:
    """Names the entry point and the prompt need, followed through the tail's definitions."""
    definitions = [s for s in tail if isinstance(s, _DEFINITIONS)]
    if not any(entry_point in _defined_names(s) for s in head + definitions):
        # The entry point is not defined anywhere: keep every definition rather than guess.
        return set().union(*(_defined_names(s) for s in definitions))
    needed = {entry_point} | _used_names(head)
    pending = list(definitions)
    changed = True
    while changed:
        changed = False
        for statement in list(pending):
            if _defined_names(statement) & needed:
                needed |= _used_names([statement])
                pending.remove(statement)
                changed = True
    return needed


def _keep(statement: ast.stmt, needed: set[str]) -> bool:
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return True
    return isinstance(statement, _DEFINITIONS) and bool(_defined_names(statement) & needed)
