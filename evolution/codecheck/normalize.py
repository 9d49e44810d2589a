"""A hash of code that ignores what does not change its meaning.

Two snippets get the same hash when they differ only in formatting, comments, docstrings or the
names of local variables and arguments: the unit of deduplication for the training-data store
and datagen. Function and class names, attributes, globals and literals still count.
"""

from __future__ import annotations

import ast
import builtins
import hashlib

from evolution.codecheck.syntax import parse_or_none

_BUILTINS = frozenset(dir(builtins))


class _Canonicalizer(ast.NodeTransformer):
    """Rename arguments and locals to v0, v1, ... in order of first appearance; drop docstrings."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._protected: set[str] = set()

    def _rename(self, name: str) -> str:
        if name in self._protected or name in _BUILTINS:
            return name
        return self._names.setdefault(name, f"v{len(self._names)}")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._function(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        self._protected.add(node.name)  # the function's own name is its identity
        _drop_docstring(node)
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._protected.add(node.name)
        _drop_docstring(node)
        self.generic_visit(node)
        return node

    def visit_Global(self, node: ast.Global) -> ast.AST:
        self._protected.update(node.names)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._rename(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Store) or node.id in self._names:
            node.id = self._rename(node.id)
        return node


def _drop_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
    body = node.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        node.body = body[1:] or [ast.Pass()]


def normalized_ast_hash(code: str) -> str | None:
    """SHA-256 of the canonical AST dump, or None when the code does not parse."""
    tree = parse_or_none(code)
    if tree is None:
        return None
    if tree.body and isinstance(tree.body[0], ast.Expr):
        first = tree.body[0].value
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            tree.body = tree.body[1:]  # module docstring
    canonical = _Canonicalizer().visit(tree)
    dump = ast.dump(canonical, annotate_fields=False, include_attributes=False)
    return hashlib.sha256(dump.encode("utf-8")).hexdigest()
