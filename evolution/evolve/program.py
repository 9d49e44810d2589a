"""The program the execution gate runs in the sandbox: context, new code, tests, a runner.

    <the file's folder and package root on sys.path, when the file's path is known>
    <imports and module definitions the code and tests use, from the original file>
    <the new function; for a method, its class with the method replaced>
    <the generated tests: top-level asserts run as they come>
    <a runner that calls each test_ function and runs each TestCase, and fails on any failure>

The sandbox executes it with ``__name__ == "__sandbox__"``, so the runner calls the tests
itself rather than relying on ``if __name__ == "__main__"``. Imports of the function from a
module that does not exist here (``from solution import f``) are removed from the tests: the
function is defined in the same program. An import of the file that fails in the sandbox (a
relative import, a package missing there) binds its names to placeholders that raise the
ImportError only when used, so tests that never touch them still run. Nothing here runs the
code: it only builds text.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass

from evolution.codecheck import parse_quietly
from evolution.evolve.context import Definition
from evolution.evolve.locate import FunctionLocation

RAN_MARKER = "evoselfcode: ran "


@dataclass(frozen=True)
class TestPlan:
    """What the tests hold, read from their syntax tree (they are never run here)."""

    asserts: int  # assert statements with a non-constant test, and self.assert*/raises calls
    calls_function: bool
    functions: tuple[str, ...]  # top-level test functions the runner calls
    async_functions: tuple[str, ...]
    test_cases: tuple[str, ...]  # unittest.TestCase classes
    problem: str | None = None


def plan_tests(tests: str, function_name: str) -> TestPlan:
    """Read the tests' structure; ``problem`` says why they cannot count as tests."""
    try:
        tree = parse_quietly(tests)
    except (SyntaxError, ValueError) as exc:
        return TestPlan(0, False, (), (), (), problem=f"the tests do not parse: {exc}")
    asserts = 0
    calls = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and not isinstance(node.test, ast.Constant):
            asserts += 1
        elif isinstance(node, ast.Call):
            callee = ast.unparse(node.func)
            calls = calls or callee.split(".")[-1] == function_name
            if re.match(r"(self\.assert|pytest\.raises|self\.fail)", callee):
                asserts += 1
    top = tree.body
    functions = tuple(
        n.name for n in top if isinstance(n, ast.FunctionDef) and n.name.startswith("test")
    )
    async_functions = tuple(
        n.name for n in top if isinstance(n, ast.AsyncFunctionDef) and n.name.startswith("test")
    )
    cases = tuple(
        n.name
        for n in top
        if isinstance(n, ast.ClassDef) and any("TestCase" in ast.unparse(b) for b in n.bases)
    )
    problem = None
    if asserts == 0:
        problem = "the tests hold no real assert (assert True does not count)"
    elif not calls:
        problem = f"the tests never call `{function_name}`"
    return TestPlan(asserts, calls, functions, async_functions, cases, problem)


def build_program(
    location: FunctionLocation | None,
    code: str,
    tests: str,
    plan: TestPlan,
    name: str,
    path: str | None = None,
) -> str:
    """The whole program for the sandbox (see the module docstring)."""
    subject = code
    if location is not None and location.is_method and location.context.enclosing_class:
        subject = _class_with_method(location, code)
    context = location.context if location else None
    needed = context.needed(f"{subject}\n{tests}", name) if context else []
    # The file's `from __future__` imports change how it runs: always first, never guarded.
    futures = [d.text for d in (context.imports if context else ()) if "__future__" in d.text]
    rest = [d for d in needed if d.text not in futures]
    prelude = [_guarded(d) if d.kind == "import" else d.text for d in rest]
    parts = [
        *futures,
        _search_path(path),
        "# --- context from the original file",
        _UNAVAILABLE if any(d.kind == "import" for d in needed) else "",
        *prelude,
        "# --- the new code",
        subject,
        "# --- the generated tests",
        _without_own_imports(tests, {name, location.class_name if location else None}),
        "# --- runner",
        _runner(plan),
    ]
    return "\n\n".join(part.rstrip() for part in parts if part.strip()) + "\n"


_UNAVAILABLE = """\
class _EvoUnavailable:
    \"\"\"Stands for a name whose import failed in the sandbox; using it raises that error.\"\"\"

    def __init__(self, statement, error):
        self.__dict__.update(statement=statement, error=error)

    def _fail(self, *args, **kwargs):
        raise ImportError(f"{self.statement!r} failed in the sandbox: {self.error}")

    __call__ = _fail

    def __getattr__(self, name):
        self._fail()"""


def _guarded(item: Definition) -> str:
    """An import that binds placeholders instead of failing the whole program."""
    names = [n for n in item.names if n != "*"]
    if not names:
        return item.text
    body = "\n".join(f"    {line}" for line in item.text.split("\n"))
    targets = " = ".join(names)
    return (
        f"try:\n{body}\nexcept ImportError as _evo_error:\n"
        f"    {targets} = _EvoUnavailable({item.text!r}, _evo_error)"
    )


def search_path(path: str | None) -> list[str]:
    """The file's folder and its package root, when its path is absolute (else none): what
    goes first on sys.path in the sandbox, and what the sandbox must let the tests read."""
    if not path or not os.path.isabs(path):
        return []
    folder = os.path.dirname(path)
    root = folder
    while os.path.isfile(os.path.join(root, "__init__.py")):
        root = os.path.dirname(root)
    return list(dict.fromkeys([folder, root]))


def _search_path(path: str | None) -> str:
    """Put the file's folder and its package root first on sys.path, so its imports resolve."""
    entries = search_path(path)
    return f"import sys as _evo_sys\n_evo_sys.path[:0] = {entries!r}" if entries else ""


def _class_with_method(location: FunctionLocation, code: str) -> str:
    """The method's class as in the document, with the method replaced by ``code``."""
    cls = location.context.enclosing_class
    assert cls is not None
    lines = cls.text.split("\n")
    start = location.range.start.line - cls.first_line
    end = location.range.end.line - cls.first_line
    new_lines = code.rstrip().split("\n")
    indented = [location.indent + line if line.strip() else "" for line in new_lines]
    return "\n".join([*lines[:start], *indented, *lines[end + 1 :]])


def _without_own_imports(tests: str, own: set[str | None]) -> str:
    """Drop ``from x import f`` of the function under test (it lives in this program)."""
    out = []
    for line in tests.split("\n"):
        match = re.match(r"\s*from\s+[\w.]+\s+import\s+(.+)$", line)
        if match:
            names = {n.strip().split(" as ")[0] for n in match.group(1).strip("() ").split(",")}
            if names and names <= own:
                continue
        out.append(line)
    return "\n".join(out)


def _runner(plan: TestPlan) -> str:
    calls = [f"    {name}()" for name in plan.functions]
    calls += [f"    __evo_asyncio.run({name}())" for name in plan.async_functions]
    lines = ["def __evo_run_tests():"]
    if plan.async_functions:
        lines.append("    import asyncio as __evo_asyncio")
    lines += calls
    if plan.test_cases:
        lines += [
            "    import unittest",
            "    suite = unittest.TestSuite()",
            f"    for case in ({', '.join(plan.test_cases)},):",
            "        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(case))",
            "    outcome = unittest.TextTestRunner(verbosity=0).run(suite)",
            "    for test, trace in outcome.failures + outcome.errors:",
            "        raise AssertionError(f'{test}: {trace.strip().splitlines()[-1]}')",
        ]
    count = len(plan.functions) + len(plan.async_functions)
    summary = f"{count} test functions, {len(plan.test_cases)} TestCases"
    lines.append(f"    print('{RAN_MARKER}{summary}')")
    return "\n".join(lines) + "\n\n\n__evo_run_tests()\n"
