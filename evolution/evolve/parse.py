"""Read the generator's reply: the improved function and its tests, whatever the layout.

Asked for two labelled fenced blocks, models still answer with prose around the code, one block
holding code and tests together, several versions of the function, other languages' blocks,
a reply cut off inside a block, or bare code without fences. The rules:

- code blocks are the fenced ones (``` or ~~~; an unclosed last fence runs to the end); with
  no fences, the whole reply if it parses, else the longest tail starting at a ``def``,
  ``class``, ``import`` or decorator line that parses;
- blocks in another language (``bash``, ``text``, ``json``, ...) are ignored;
- the code is the block defining the function by its name: the one labelled ``# improved``
  (or with "improved" in its fence info or in the line before it), else the last such block;
- tests come from blocks labelled as tests, else from blocks with ``assert`` that do not define
  the function; a block with both is split by top-level statement: asserts, ``test_``
  functions, ``TestCase`` classes, calls and ``if __name__ == "__main__"`` go to the tests;
- for a method, only the method stays in the code (anything else is dropped, with a note).

``problem`` says why there is no usable code; ``notes`` say what was worked around.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from evolution.codecheck import parse_or_none

_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n"
    r"(?P<body>.*?)(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
_PYTHON_INFO = {"", "python", "py", "python3", "py3", "pycon", "ipython"}
_CODE_START = re.compile(r"^(async\s+def|def|class|import|from|@)\b")


@dataclass(frozen=True)
class Block:
    info: str
    text: str
    before: str  # the prose line just before the fence (often a heading)
    closed: bool = True

    @property
    def label(self) -> str:
        """ "improved", "tests" or "" from the info string, a first-line comment or a heading."""
        first = self.text.lstrip().split("\n", 1)[0].lower()
        hints = f"{self.info} {first if first.startswith('#') else ''} {self.before}".lower()
        if "test" in hints:
            return "tests"
        if "improved" in hints or "solution" in hints or "implementation" in hints:
            return "improved"
        return ""


@dataclass(frozen=True)
class ParsedReply:
    """The usable parts of a generator reply."""

    code: str | None = None
    tests: str | None = None
    name: str = ""  # the function's name (inferred when writing a new function)
    problem: str | None = None  # why ``code`` is None
    notes: tuple[str, ...] = field(default_factory=tuple)
    defined: tuple[str, ...] = ()  # top-level functions the reply's code defines


def parse_reply(text: str, name: str | None, *, is_method: bool = False) -> ParsedReply:
    """The definition of ``name`` and the tests in a generator's reply.

    ``name`` None (a new function): the function the tests call, else the last one defined
    (helpers usually come first).
    """
    notes: list[str] = []
    blocks = _blocks(text, notes)
    if name is not None and is_method:
        blocks = [_method_out_of_class(b, name, notes) for b in blocks]
    if not blocks:
        return ParsedReply(problem="the generator's reply holds no code", notes=tuple(notes))
    name = name or _main_function(blocks)
    if not name:
        return ParsedReply(problem="the generator's code defines no function", notes=tuple(notes))
    defining = [b for b in blocks if name in _defined_functions(b.text)]
    if not defining:
        others = sorted({f for b in blocks for f in _defined_functions(b.text)})
        problem = (
            f"the generator's code does not define `{name}`"
            + (f" (it defines {', '.join(f'`{o}`' for o in others)})" if others else "")
            + ": a renamed function would break its callers"
        )
        return ParsedReply(problem=problem, notes=tuple(notes), defined=tuple(others))
    chosen = _choose_code_block(defining, notes)
    code, tests_inside = _split_code_and_tests(chosen.text, name, is_method, notes)
    separate = _tests(blocks, chosen, name, notes)
    parts = [part.rstrip() for part in (separate, tests_inside) if part]
    tests = "\n\n".join(parts) + "\n" if parts else None
    return ParsedReply(
        code=code,
        tests=tests,
        name=name,
        notes=tuple(notes),
        defined=tuple(_defined_functions(code)),
    )


def _main_function(blocks: list[Block]) -> str | None:
    labelled = [b for b in blocks if b.label == "improved"]
    source = (
        labelled[-1]
        if labelled
        else next((b for b in reversed(blocks) if _defined_functions(b.text)), blocks[-1])
    )
    candidates = [f for f in _defined_functions(source.text) if not f.startswith("test")]
    if not candidates:
        return None
    tests = "\n".join(b.text for b in blocks if re.search(r"\bassert", b.text))
    called = [f for f in candidates if re.search(rf"\b{re.escape(f)}\s*\(", tests)]
    return (called or candidates)[-1]


def _blocks(text: str, notes: list[str]) -> list[Block]:
    found: list[Block] = []
    skipped: list[str] = []
    for match in _FENCE.finditer(text):
        info = match.group("info").strip()
        language = info.split()[0].lower() if info else ""
        if language not in _PYTHON_INFO and not re.match(r"(improved|tests?)\b", language):
            skipped.append(language)
            continue
        line_start = text.rfind("\n", 0, max(match.start() - 1, 0)) + 1
        before = text[line_start : match.start()].strip()
        closed = match.group(0).rstrip().endswith(match.group("fence"))
        if not closed:
            notes.append("the last code block is not closed (the reply was cut off?)")
        found.append(Block(info, _dedent(match.group("body")), before, closed))
    if skipped:
        notes.append(f"ignored blocks in other languages: {', '.join(sorted(set(skipped)))}")
    if found:
        if len(found) > 2:
            notes.append(f"the reply has {len(found)} Python blocks")
        return found
    if skipped:
        return []
    bare = _bare_code(text)
    if bare is not None:
        notes.append("the reply has no fenced blocks: took its code as it stands")
        return [Block("", bare, "")]
    return []


def _bare_code(text: str) -> str | None:
    if _parses(text) and _defined_functions(text):
        return text
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if _CODE_START.match(line):
            for end in range(len(lines), start, -1):
                candidate = "\n".join(lines[start:end])
                if _parses(candidate):
                    return candidate + "\n"
            return None
    return None


def _method_out_of_class(block: Block, name: str, notes: list[str]) -> Block:
    """A block that rewrote the whole class, reduced to the method (tests stay beside it)."""
    tree = parse_or_none(block.text)
    if tree is None or name in _defined_functions(block.text):
        return block
    lines = block.text.splitlines()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if _defines(member, name):
                    method = "\n".join(lines[_first_line(member) - 1 : member.end_lineno])
                    rest = [
                        "\n".join(lines[_first_line(other) - 1 : other.end_lineno])
                        for other in tree.body
                        if _is_test_statement(other)
                    ]
                    notes.append(f"the reply rewrote class `{node.name}`: took the method")
                    text = "\n\n".join([_dedent(method).rstrip(), *rest]) + "\n"
                    return Block(block.info, text, block.before, block.closed)
    return block


def _choose_code_block(defining: list[Block], notes: list[str]) -> Block:
    labelled = [b for b in defining if b.label == "improved"]
    if labelled:
        if len(defining) > 1:
            notes.append("several blocks define the function: took the one labelled improved")
        return labelled[-1]
    if len(defining) > 1:
        notes.append(f"{len(defining)} blocks define the function: took the last one")
    return defining[-1]


def _tests(blocks: list[Block], chosen: Block, name: str, notes: list[str]) -> str | None:
    labelled = [b for b in blocks if b is not chosen and b.label == "tests"]
    unlabelled = [
        b
        for b in blocks
        if b is not chosen
        and b not in labelled
        and name not in _defined_functions(b.text)
        and re.search(r"\bassert", b.text)
    ]
    picked = labelled or unlabelled
    if len(picked) > 1:
        notes.append(f"joined {len(picked)} test blocks")
    return "\n\n".join(b.text.rstrip() for b in picked) + "\n" if picked else None


def _split_code_and_tests(
    text: str, name: str, is_method: bool, notes: list[str]
) -> tuple[str, str | None]:
    """The definitions (code) and the test statements (tests) of one block."""
    tree = parse_or_none(text)
    if tree is None:
        return text, None  # the syntax gate will say what is wrong
    lines = text.splitlines()
    code_parts: list[str] = []
    test_parts: list[str] = []
    dropped: list[str] = []
    for node in tree.body:
        segment = "\n".join(lines[_first_line(node) - 1 : node.end_lineno])
        if _is_test_statement(node):
            test_parts.append(segment)
        elif is_method and not _defines(node, name):
            dropped.append(type(node).__name__)
        elif isinstance(node, (ast.Expr, ast.If, ast.For, ast.While, ast.With, ast.Try)):
            dropped.append(type(node).__name__)  # top-level work, e.g. print(f(3))
        else:
            code_parts.append(segment)
    if test_parts:
        notes.append("the code block also held tests: split them off")
    if dropped:
        notes.append(f"dropped top-level statements outside the function: {', '.join(dropped)}")
    code = "\n\n".join(code_parts) + "\n"
    return code, ("\n\n".join(test_parts) + "\n" if test_parts else None)


def _is_test_statement(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name.startswith("test")
    if isinstance(node, ast.ClassDef):
        return node.name.startswith("Test") or any(
            isinstance(base, (ast.Attribute, ast.Name)) and "TestCase" in ast.unparse(base)
            for base in node.bases
        )
    if isinstance(node, ast.If):
        return "__main__" in ast.unparse(node.test)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return ast.unparse(node.value.func).startswith(("test", "unittest", "check"))
    return False


def _defines(node: ast.stmt, name: str) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _defined_functions(text: str) -> list[str]:
    tree = parse_or_none(text)
    if tree is not None:
        return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    # Broken code still names its functions; the syntax gate rejects it with the reason.
    return re.findall(r"^(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)", text, re.MULTILINE)


def _parses(text: str) -> bool:
    return bool(text.strip()) and parse_or_none(text) is not None


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip("\n") + "\n"
