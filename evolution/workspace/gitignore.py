"""The part of git's ignore rules that decides which workspace files are the user's own.

``pathspec`` is not among the project's locked dependencies, so the subset the scan needs is
written here, after ``gitignore(5)``:

- blank lines and ``#`` comments are skipped; ``\\#`` and ``\\!`` start a pattern with the
  character itself; trailing spaces are dropped unless escaped (``\\ ``);
- ``!`` re-includes what an earlier pattern excluded (the last matching pattern decides);
- a trailing ``/`` matches folders only;
- a pattern with a ``/`` at its start or in its middle is relative to its ``.gitignore``'s
  folder; without one it matches a name at any depth below that folder;
- ``*`` and ``?`` match within one path component, ``[...]`` is a character class
  (``[!...]`` negated), ``**/`` matches any folders (none included), ``/**`` everything inside.

Deeper ``.gitignore`` files come later in the rule list, so they override shallower ones, and
``.git/info/exclude`` comes first. A file inside an excluded folder cannot be re-included:
the scan never walks into an excluded folder, as git never does. Not covered: the user's global
``core.excludesFile`` and files that git tracks although a pattern ignores them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class IgnoreRule:
    """One pattern of one ignore file. ``base`` is its file's folder, relative to the top of
    the rules (``""`` for the top itself, else ``"a/b"``)."""

    base: str
    pattern: str  # as written, for reports
    regex: re.Pattern[str]  # matches a path relative to ``base``
    negated: bool
    folders_only: bool

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.folders_only and not is_dir:
            return False
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1 :]
        return self.regex.fullmatch(path) is not None


def parse_ignore_file(text: str, base: str = "") -> list[IgnoreRule]:
    """The rules of one ``.gitignore`` (or ``info/exclude``) whose folder is ``base``."""
    rules = []
    for line in text.splitlines():
        rule = _parse_line(line, base)
        if rule is not None:
            rules.append(rule)
    return rules


class IgnoreRules:
    """The rules in force in one folder: its ancestors' and its own, shallowest first."""

    def __init__(self, rules: Sequence[IgnoreRule] = ()) -> None:
        self.rules = tuple(rules)

    def with_file(self, text: str, base: str) -> IgnoreRules:
        """These rules and, after them, those of the ignore file of folder ``base``."""
        added = parse_ignore_file(text, base)
        return IgnoreRules(self.rules + tuple(added)) if added else self

    def deciding_rule(self, path: str, is_dir: bool) -> IgnoreRule | None:
        """The last rule that matches ``path`` (``"a/b.py"``, relative to the top), if any."""
        found = None
        for rule in self.rules:
            if rule.matches(path, is_dir):
                found = rule
        return found

    def ignored(self, path: str, is_dir: bool) -> bool:
        rule = self.deciding_rule(path, is_dir)
        return rule is not None and not rule.negated


def _parse_line(line: str, base: str) -> IgnoreRule | None:
    if not line or line.startswith("#"):
        return None
    pattern = _strip_trailing_spaces(line)
    negated = pattern.startswith("!")
    if negated or pattern.startswith(("\\!", "\\#")):  # "\\!" and "\\#" start literally
        pattern = pattern[1:]
    folders_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    if not pattern:
        return None
    # A slash at the start or in the middle ties the pattern to its file's folder.
    anchored = "/" in pattern
    pattern = pattern.lstrip("/")
    regex = ("" if anchored else "(?:.*/)?") + _translate_path(pattern)
    return IgnoreRule(base, line, re.compile(regex, re.DOTALL), negated, folders_only)


def _strip_trailing_spaces(line: str) -> str:
    end = len(line)
    while end > 0 and line[end - 1] == " " and not (end >= 2 and line[end - 2] == "\\"):
        end -= 1
    return line[:end]


def _translate_path(pattern: str) -> str:
    parts = pattern.split("/")
    out = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            # "a/**" is everything inside a; "**/b" and "a/**/b" allow any folders, or none.
            out.append(".*" if last else "(?:.*/)?")
        else:
            out.append(_translate_component(part) + ("" if last else "/"))
    return "".join(out)


def _translate_component(part: str) -> str:
    """One path component's glob as a regex that never matches a ``/``."""
    out = []
    i = 0
    while i < len(part):
        char = part[i]
        if char == "\\" and i + 1 < len(part):
            out.append(re.escape(part[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = _class_end(part, i)
            if end < 0:
                out.append(re.escape(char))
            else:
                out.append(_translate_class(part[i + 1 : end]))
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _class_end(part: str, start: int) -> int:
    """The index of the ``]`` that closes the class opened at ``start``, or -1."""
    i = start + 1
    if i < len(part) and part[i] in "!^":
        i += 1
    if i < len(part) and part[i] == "]":  # a leading "]" is a member, not the end
        i += 1
    return part.find("]", i)


def _translate_class(body: str) -> str:
    negated = body[:1] in ("!", "^")
    if negated:
        body = body[1:]
    # Escape what Python's classes read specially (or warn about); "-" keeps its ranges.
    members = "".join("\\" + c if c in "\\[]&~|^" else c for c in body)
    return f"[^/{members}]" if negated else f"[{members}]"
