"""Syntax checks: Python's own parser and tree-sitter's error-tolerant one.

``ast`` says whether code is valid; tree-sitter says *how* broken it is (the number of ERROR
and MISSING nodes), which lets a completion be judged against the document without it.
"""

from __future__ import annotations

import ast
import functools
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Tree


@functools.lru_cache(maxsize=1)
def _parser() -> Parser:
    import tree_sitter_python
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_python.language()))


def parse_quietly(code: str) -> ast.Module:
    """``ast.parse`` without its SyntaxWarnings (invalid escapes and the like in code that is
    not ours to fix); raises as ``ast.parse`` does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(code)


def parse_or_none(code: str) -> ast.Module | None:
    """The module of ``code``, or None when it does not parse (NUL bytes, absurd nesting and
    memory exhaustion included)."""
    try:
        return parse_quietly(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def tree_sitter_parse(code: str) -> Tree:
    return _parser().parse(code.encode("utf-8", errors="surrogatepass"))


def syntax_error_count(code: str) -> int:
    """Number of ERROR and MISSING nodes tree-sitter finds (0 for valid code)."""
    root = tree_sitter_parse(code).root_node
    if not root.has_error:
        return 0
    return _count_errors(root)


def _count_errors(node: Node) -> int:
    # Iterative walk: a pathological file must not hit Python's recursion limit.
    count, stack = 0, [node]
    while stack:
        current = stack.pop()
        if current.is_error or current.is_missing:
            count += 1
            continue  # an ERROR subtree counts once
        if current.has_error:
            stack.extend(current.children)
    return count


def ast_error(code: str) -> str | None:
    """None when ``code`` parses with ``ast``, else a one-line message with the position."""
    try:
        parse_quietly(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}, column {exc.offset}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        return f"{type(exc).__name__}: {exc}"
    return None
