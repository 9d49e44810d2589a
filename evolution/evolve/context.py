"""What surrounds a function: the module's imports and definitions, and the class of a method.

The generator sees the parts the function uses (so it neither re-invents a helper nor drops an
import), and the execution gate runs the new code with them (so its tests can import and call
what the original could). Built from tree-sitter's tree, so a file with a syntax error elsewhere
still yields the parts that parse.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from evolution.codecheck import parse_quietly

if TYPE_CHECKING:
    from tree_sitter import Node

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_IMPORTS = ("import_statement", "import_from_statement", "future_import_statement")
# A definition longer than this is shown to the generator by its header and docstring only.
_FULL_TEXT_LINES = 30


@dataclass(frozen=True)
class Definition:
    """A module-level statement that binds names: an import, function, class or assignment."""

    kind: Literal["import", "function", "class", "assignment"]
    names: tuple[str, ...]
    text: str
    first_line: int
    last_line: int

    @property
    def name(self) -> str:
        return self.names[0] if self.names else ""


@dataclass(frozen=True)
class SourceContext:
    """The module around a function (see ``module_context``)."""

    imports: tuple[Definition, ...] = ()
    definitions: tuple[Definition, ...] = ()
    enclosing_class: Definition | None = None  # a method's whole class, as in the document
    enclosing_function: str | None = None  # the header of the function a nested one is in

    def prompt_text(self, function_code: str, own_name: str, budget_chars: int = 6000) -> str:
        """Imports and definitions the function uses, then its class outline, for a prompt."""
        parts = [item.text for item in self.needed(function_code, own_name)]
        if self.enclosing_class is not None:
            parts.append(class_outline(self.enclosing_class.text, skip=own_name))
        if self.enclosing_function:
            parts.append(f"# the function is nested in:\n{self.enclosing_function}")
        text, used = [], 0
        for part in parts:
            shown = part if part.count("\n") < _FULL_TEXT_LINES else outline(part)
            if used + len(shown) > budget_chars:
                break
            text.append(shown)
            used += len(shown)
        return "\n\n".join(text)

    def execution_prelude(self, code: str, own_name: str) -> str:
        """Module statements the code (and, transitively, what it pulls in) needs to run."""
        return "\n\n".join(item.text for item in self.needed(code, own_name))

    def needed(self, code: str, own_name: str) -> list[Definition]:
        """Statements binding names ``code`` uses, and those their own code needs, in document
        order; the old definition of ``own_name`` itself is left out."""
        names = names_used(code)
        chosen: dict[int, Definition] = {}
        pending = set(names)
        candidates = [*self.imports, *self.definitions]
        while pending:
            more: set[str] = set()
            for item in candidates:
                is_old_self = own_name in item.names and item.kind != "import"
                if item.first_line in chosen or is_old_self:
                    continue
                if "*" in item.names or pending & set(item.names):
                    chosen[item.first_line] = item
                    if item.kind != "import":
                        more |= names_used(item.text)
            pending = more - names
            names |= more
        return [chosen[line] for line in sorted(chosen)]


def module_context(root: Node, lines: list[str], function_node: Node | None) -> SourceContext:
    """The imports and top-level definitions under ``root``, and ``function_node``'s enclosures."""
    imports, definitions = [], []
    for child in root.children:
        item = _definition(child, lines)
        if item is not None:
            (imports if item.kind == "import" else definitions).append(item)
    enclosing_class = enclosing_function = None
    if function_node is not None:
        scope = enclosing_scope(function_node)
        if scope is not None and scope.type == "class_definition":
            enclosing_class = _definition(_with_decorators(scope), lines)
        elif scope is not None:
            enclosing_function = header_text(scope, lines)
    return SourceContext(tuple(imports), tuple(definitions), enclosing_class, enclosing_function)


def enclosing_scope(node: Node) -> Node | None:
    """The nearest class or function definition around ``node``."""
    parent = node.parent
    while parent is not None:
        if parent.type in ("class_definition", "function_definition"):
            return parent
        parent = parent.parent
    return None


def header_text(node: Node, lines: list[str]) -> str:
    """The lines of a definition up to the start of its body."""
    body = node.child_by_field_name("body")
    last = body.start_point.row - 1 if body is not None else node.start_point.row
    return "\n".join(lines[node.start_point.row : max(last, node.start_point.row) + 1])


def _with_decorators(node: Node) -> Node:
    parent = node.parent
    return parent if parent is not None and parent.type == "decorated_definition" else node


def _definition(node: Node, lines: list[str]) -> Definition | None:
    first, last = node.start_point.row, node.end_point.row
    if node.end_point.column == 0 and last > first:
        last -= 1
    text = "\n".join(lines[first : last + 1])
    if node.has_error:
        return None
    if node.type in _IMPORTS:
        return Definition("import", _import_names(text), text, first, last)
    target = node.child_by_field_name("definition") if node.type == "decorated_definition" else node
    if target is not None and target.type in ("function_definition", "class_definition"):
        name = target.child_by_field_name("name")
        kind = "class" if target.type == "class_definition" else "function"
        names = (name.text.decode(),) if name is not None and name.text else ()
        return Definition(kind, names, text, first, last)
    if node.type == "expression_statement" and node.children:
        assignment = node.children[0]
        if assignment.type == "assignment":
            left = assignment.child_by_field_name("left")
            if left is not None and left.text:
                names = tuple(_IDENTIFIER.findall(left.text.decode()))
                return Definition("assignment", names, text, first, last)
    return None


def _import_names(text: str) -> tuple[str, ...]:
    try:
        statement = parse_quietly(text).body[0]
    except (SyntaxError, ValueError, IndexError):
        return ()
    if not isinstance(statement, (ast.Import, ast.ImportFrom)):
        return ()
    if isinstance(statement, ast.Import):
        return tuple((alias.asname or alias.name.split(".")[0]) for alias in statement.names)
    return tuple((alias.asname or alias.name) for alias in statement.names)


def names_used(code: str) -> set[str]:
    """Every identifier in ``code`` (a superset of the free names: cheap and error-tolerant)."""
    from evolution.codecheck import tree_sitter_parse

    found: set[str] = set()
    stack = [tree_sitter_parse(code).root_node]
    while stack:
        node = stack.pop()
        if node.type == "identifier" and node.text:
            found.add(node.text.decode())
        elif node.type not in ("string", "comment"):
            stack.extend(node.children)
    return found


def outline(text: str) -> str:
    """A long definition shortened to its header and docstring (``...`` for the rest)."""
    try:
        node = parse_quietly(text).body[0]
    except (SyntaxError, ValueError, IndexError):
        return "\n".join(text.splitlines()[:_FULL_TEXT_LINES]) + "\n# ..."
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return text
    lines = text.splitlines()
    body_start = node.body[0].lineno - 1
    kept = lines[:body_start]
    doc = ast.get_docstring(node, clean=False)
    indent = leading_space(lines[body_start]) if body_start < len(lines) else "    "
    if doc is not None and node.body[0].end_lineno is not None:
        kept += lines[body_start : node.body[0].end_lineno]
    return "\n".join([*kept, f"{indent}..."])


def class_outline(class_text: str, skip: str) -> str:
    """A class with its other methods shortened to signatures: the method's neighbourhood."""
    try:
        tree = parse_quietly(class_text)
    except (SyntaxError, ValueError):
        return outline(class_text)
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    if not classes:
        return class_text
    lines = class_text.splitlines()
    kept: list[str] = []
    cls = classes[0]
    kept += lines[: cls.body[0].lineno - 1]
    for statement in cls.body:
        start = _first_line(statement) - 1
        end = statement.end_lineno or statement.lineno
        segment = "\n".join(lines[start:end])
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if statement.name == skip:
                indent = leading_space(lines[start])
                kept.append(f"{indent}# <the method to improve: {skip}>")
                continue
            kept.append(_indent_block(outline(_dedent_block(segment)), lines[start]))
        else:
            kept.append(segment)
    return "\n".join(kept)


def _first_line(statement: ast.stmt) -> int:
    decorators: Iterable[ast.expr] = getattr(statement, "decorator_list", ())
    return min([statement.lineno, *(d.lineno for d in decorators)])


def _dedent_block(text: str) -> str:
    lines = text.splitlines()
    indent = leading_space(lines[0]) if lines else ""
    return "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in lines)


def _indent_block(text: str, like_line: str) -> str:
    indent = leading_space(like_line)
    return "\n".join(indent + line if line else line for line in text.splitlines())


def leading_space(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]
