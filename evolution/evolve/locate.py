"""Find the function to evolve from a cursor position or a selection.

Positions follow LSP: 0-based lines, and ``character`` counted in Unicode code points (LSP's
``utf-32`` encoding; a UTF-16 client's columns go through pygls's ``PositionCodec`` first).
Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, as in LSP. The located range always covers whole
lines, from column 0 of the first decorator (or ``def``) line to the end of the last line (its
newline excluded), so replacing it with the re-indented new function is one text edit.

How the function is chosen:

- cursor: the innermost function whose lines (with its decorators and the comment lines just
  above them) hold the cursor; methods keep their class as context;
- selection: the smallest function holding the whole selection, else the one function the
  selection holds entirely (several: an error naming them);
- when tree-sitter finds no function there and the file has syntax errors (half-typed code:
  ``def f(x:`` is an ERROR node, not a function), the selection itself if it holds a ``def``,
  else the block indented under the nearest ``def`` above the cursor. ``located_by`` and
  ``note`` say which was used.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from evolution.evolve.context import (
    SourceContext,
    enclosing_scope,
    leading_space,
    module_context,
)
from evolution.evolve.errors import FunctionNotFound
from evolution.evolve.indentation import DEF_LINE, block_end, class_above, def_above

if TYPE_CHECKING:
    from tree_sitter import Node

LocatedBy = Literal["tree-sitter", "indentation", "selection"]
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MARKERS = re.compile(r"自我演化|self-evolve:", re.IGNORECASE)


@dataclass(frozen=True)
class Position:
    line: int
    character: int = 0

    def to_lsp(self) -> dict[str, int]:
        return {"line": self.line, "character": self.character}


@dataclass(frozen=True)
class Range:
    start: Position
    end: Position

    def to_lsp(self) -> dict[str, dict[str, int]]:
        return {"start": self.start.to_lsp(), "end": self.end.to_lsp()}

    @classmethod
    def from_lsp(cls, data: dict[str, Any]) -> Range:
        return cls(Position(**data["start"]), Position(**data["end"]))


@dataclass(frozen=True)
class FunctionLocation:
    """The function to evolve, where it is, and what the generator needs to know about it."""

    name: str
    range: Range
    text: str  # exactly the document's text in ``range``
    code: str  # the function dedented to column 0, with ``\n`` line ends
    indent: str  # indentation of its first line, re-applied to the new code
    newline: str  # the document's line end
    is_async: bool
    class_name: str | None
    located_by: LocatedBy
    note: str
    docstring: str | None
    comments: tuple[str, ...]  # comment texts above and inside the function, ``#`` stripped
    marker: str | None  # the user's words from a 自我演化 / self-evolve: comment ("" if none)
    context: SourceContext

    @property
    def is_method(self) -> bool:
        return self.class_name is not None

    def reindent(self, code: str) -> str:
        """``code`` (at column 0) indented and line-ended as the original, for the edit."""
        lines = code.strip("\n").split("\n")
        indented = [self.indent + line if line.strip() else "" for line in lines]
        return self.newline.join(indented)

    def matches(self, source: str) -> bool:
        """Whether ``source`` still holds the original text at ``range`` (stale-edit check)."""
        lines = split_lines(source)
        first, last = self.range.start.line, self.range.end.line
        return last < len(lines) and self.newline.join(lines[first : last + 1]) == self.text


def split_lines(source: str) -> list[str]:
    return _LINE_BREAK.split(source)


def locate_function(source: str, where: Position | Range) -> FunctionLocation:
    """The function at a cursor ``Position`` or in a selection ``Range`` (see module docstring).

    Raises ``FunctionNotFound`` with the reason when there is none.
    """
    from evolution.codecheck import tree_sitter_parse

    lines = split_lines(source)
    if isinstance(where, Range) and where.start == where.end:
        where = where.start
    first, last = _selected_lines(where, len(lines))
    root = tree_sitter_parse("\n".join(lines)).root_node
    spans = [_Span.of(node, lines) for node in _functions(root)]
    if isinstance(where, Position):
        chosen = _innermost(spans, first, first)
    else:
        chosen = _innermost(spans, first, last) or _the_one_inside(spans, first, last)
    finder = _Builder(source, lines, root)
    if chosen is not None:
        note = "the function has syntax errors" if chosen.node.has_error else ""
        return finder.from_node(chosen, note)
    if not root.has_error:
        what = f"line {first + 1}" if first == last else f"lines {first + 1}-{last + 1}"
        raise FunctionNotFound(f"no function at {what}: put the cursor inside a function")
    if isinstance(where, Range):
        return finder.from_selection(first, last)
    return finder.from_indentation(first)


def _selected_lines(where: Position | Range, line_count: int) -> tuple[int, int]:
    start = where.start if isinstance(where, Range) else where
    end = where.end if isinstance(where, Range) else where
    if start.line < 0 or end.line < start.line:
        raise FunctionNotFound(f"invalid position or range: {where}")
    last = end.line - 1 if end.character == 0 and end.line > start.line else end.line
    return min(start.line, line_count - 1), min(last, line_count - 1)


def _functions(root: Node) -> list[Node]:
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            found.append(node)
        stack.extend(node.children)
    return found


@dataclass(frozen=True)
class _Span:
    node: Node
    lead: int  # first of the comment lines just above (the cursor may sit on them)
    first: int  # first decorator or def line
    last: int

    @classmethod
    def of(cls, node: Node, lines: list[str]) -> _Span:
        parent = node.parent
        outer = parent if parent is not None and parent.type == "decorated_definition" else node
        first, last = outer.start_point.row, node.end_point.row
        if node.end_point.column == 0 and last > first:
            last -= 1
        return cls(node, _comments_start(lines, first), first, last)


def _innermost(spans: list[_Span], first: int, last: int) -> _Span | None:
    holding = [s for s in spans if s.lead <= first and last <= s.last]
    return min(holding, key=lambda s: s.last - s.first, default=None)


def _the_one_inside(spans: list[_Span], first: int, last: int) -> _Span | None:
    inside = [s for s in spans if first <= s.first and s.last <= last]
    outermost = [s for s in inside if not any(o is not s and _holds(o, s) for o in inside)]
    if len(outermost) > 1:
        names = ", ".join(_name(s.node) for s in sorted(outermost, key=lambda s: s.first))
        raise FunctionNotFound(f"the selection holds several functions ({names}): select one")
    return outermost[0] if outermost else None


def _holds(outer: _Span, inner: _Span) -> bool:
    return outer.first <= inner.first and inner.last <= outer.last


def _name(node: Node) -> str:
    name = node.child_by_field_name("name")
    return name.text.decode() if name is not None and name.text else "<unnamed>"


@dataclass(frozen=True)
class _Found:
    """A chosen function before its text, comments and context are read."""

    name: str
    lead: int  # first comment line above it
    first: int
    last: int
    is_async: bool
    class_name: str | None
    located_by: LocatedBy
    note: str
    node: Node | None = None


class _Builder:
    """Chooses by indentation or selection when tree-sitter cannot; builds the location."""

    def __init__(self, source: str, lines: list[str], root: Node) -> None:
        self.lines = lines
        self.root = root
        match = _LINE_BREAK.search(source)
        self.newline = match.group() if match else "\n"

    def from_node(self, span: _Span, note: str) -> FunctionLocation:
        scope = enclosing_scope(span.node)
        in_class = scope is not None and scope.type == "class_definition"
        is_async = bool(span.node.children) and span.node.children[0].type == "async"
        return self._location(
            _Found(
                name=_name(span.node),
                lead=span.lead,
                first=span.first,
                last=span.last,
                is_async=is_async,
                class_name=_name(scope) if in_class and scope is not None else None,
                located_by="tree-sitter",
                note=note,
                node=span.node,
            )
        )

    def from_indentation(self, line: int) -> FunctionLocation:
        def_line = def_above(self.lines, line)
        match = DEF_LINE.match(self.lines[def_line]) if def_line is not None else None
        if def_line is None or match is None:
            raise FunctionNotFound(
                f"no function at line {line + 1} (the file has syntax errors: to evolve a "
                "half-typed function, put the cursor in it or select it)"
            )
        first = def_line
        while first > 0 and self.lines[first - 1].lstrip().startswith("@"):
            first -= 1
        note = (
            f"the code around line {line + 1} does not parse (half-typed?): took the block "
            f"indented under `def {match.group(2)}` at line {def_line + 1}"
        )
        return self._location(
            _Found(
                name=match.group(2),
                lead=_comments_start(self.lines, first),
                first=first,
                last=block_end(self.lines, def_line),
                is_async=bool(match.group(1)),
                class_name=class_above(self.lines, def_line),
                located_by="indentation",
                note=note,
            )
        )

    def from_selection(self, first: int, last: int) -> FunctionLocation:
        for number in range(first, last + 1):
            match = DEF_LINE.match(self.lines[number])
            if match:
                return self._location(
                    _Found(
                        name=match.group(2),
                        lead=first,
                        first=first,
                        last=last,
                        is_async=bool(match.group(1)),
                        class_name=class_above(self.lines, number),
                        located_by="selection",
                        note="the code does not parse: took the selected lines as the function",
                    )
                )
        raise FunctionNotFound("the selection holds no `def`: select a whole function")

    def _location(self, found: _Found) -> FunctionLocation:
        first, last = found.first, found.last
        while last > first and not self.lines[last].strip():
            last -= 1
        text_lines = self.lines[first : last + 1]
        indent = leading_space(text_lines[0])
        code = "\n".join(_strip_prefix(line, indent) for line in text_lines) + "\n"
        comments = _comments(self.lines[found.lead : first]) + _comments(text_lines)
        return FunctionLocation(
            name=found.name,
            range=Range(Position(first, 0), Position(last, len(self.lines[last]))),
            text=self.newline.join(text_lines),
            code=code,
            indent=indent,
            newline=self.newline,
            is_async=found.is_async,
            class_name=found.class_name,
            located_by=found.located_by,
            note=found.note,
            docstring=_docstring(code),
            comments=tuple(comments),
            marker=_marker(comments),
            context=module_context(self.root, self.lines, found.node),
        )


def _strip_prefix(line: str, indent: str) -> str:
    # Lines indented less than the def (flush-left parts of multi-line strings) stay as they are.
    return line[len(indent) :] if line.startswith(indent) else line


def _comments_start(lines: list[str], first: int) -> int:
    """The first of the comment lines right above line ``first``, at its indentation."""
    indent = leading_space(lines[first])
    while first > 0 and lines[first - 1].startswith(f"{indent}#"):
        first -= 1
    return first


def _comments(lines: list[str]) -> list[str]:
    """Comment texts in ``lines`` (whole-line and trailing), found with tree-sitter."""
    from evolution.codecheck import tree_sitter_parse

    found, stack = [], [tree_sitter_parse("\n".join(lines)).root_node]
    while stack:
        node = stack.pop()
        if node.type == "comment" and node.text:
            found.append((node.start_point, node.text.decode().lstrip("#").strip()))
        else:
            stack.extend(node.children)
    return [text for _, text in sorted(found) if text]


def _docstring(code: str) -> str | None:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        match = re.search(r'^[^\n]*:\s*\n\s*[rRuU]?("""|\'\'\')(.*?)\1', code, re.DOTALL)
        return match.group(2).strip() if match else None
    node = tree.body[0] if tree.body else None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ast.get_docstring(node)
    return None


def _marker(comments: list[str]) -> str | None:
    """The words around the first 自我演化 / self-evolve: marker, or None without one."""
    for comment in comments:
        match = _MARKERS.search(comment)
        if match:
            words = f"{comment[: match.start()]} {comment[match.end() :]}"
            return " ".join(words.split()).strip(" :：,，-—")
    return None
