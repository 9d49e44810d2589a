"""The gates a generated function passes before anyone sees it, each returning a ``GateResult``.

1. ``reply``: the generator's reply has code that defines the function under its name, with a
   signature existing callers can still use (``parse``, ``signature``);
2. ``syntax``: Python's parser, tree-sitter, and ruff's F and E9 rules (run with the file's
   context, so a helper defined beside the function is not an undefined name). Blocking:
   E9 and every F rule except the ones about style or dead code (``ADVISORY_RUFF``);
3. ``execution``: the generated tests (real asserts that call the function) run against the
   new code in the evaluation sandbox, with a time limit (``program``); untrusted code never
   runs in this process. The sandbox is given the file's folder and package root to read (it
   hides /tmp and folders its user cannot enter), so the file's own imports resolve there;
4. ``verifier``: see ``verify``.

A gate policy (``GatePolicy``) says which gates a reply must pass to be recorded: ``all`` (the
default, and the only one the editor uses), ``syntax`` (reply and syntax) or ``none`` (reply
only: a reply with no code has nothing to record). The weaker policies exist to measure what
the gates are worth (``evoselfcode evolve --gates``); their records say which policy let them in.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from evolution.evolve.locate import FunctionLocation
from evolution.evolve.parse import ParsedReply
from evolution.evolve.program import RAN_MARKER, build_program, plan_tests, search_path
from evolution.evolve.signature import find_function, incompatibility

if TYPE_CHECKING:
    from evaluation.sandbox import ExecResult, Sandbox

# ruff findings recorded but not blocking: unused imports/variables, redefinitions, star
# imports, f-strings without placeholders. Everything else in F and E9 is an error.
ADVISORY_RUFF = frozenset({"F401", "F403", "F405", "F541", "F811", "F841"})
_OUTPUT_TAIL = 2000

GatePolicy = Literal["all", "syntax", "none"]
# The gates each policy runs, in order; a gate outside its policy is not run at all.
GATES_OF_POLICY: dict[str, tuple[str, ...]] = {
    "all": ("reply", "syntax", "execution", "verifier"),
    "syntax": ("reply", "syntax"),
    "none": ("reply",),
}


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict: ``reason`` is one sentence for the user; ``details`` for the record."""

    name: str
    passed: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reply_gate(parsed: ParsedReply, name: str, location: FunctionLocation | None) -> GateResult:
    """Code found, the function defined under its name, its signature still compatible."""
    started = time.perf_counter()
    details: dict[str, Any] = {"notes": list(parsed.notes), "defines": list(parsed.defined)}
    if parsed.code is None:
        return _result("reply", False, parsed.problem or "no code", details, started)
    if location is not None:
        old, new = find_function(location.code, name), find_function(parsed.code, name)
        if old is not None and new is not None:
            problem = incompatibility(old, new, is_method=location.is_method)
            if problem:
                return _result("reply", False, problem, details, started)
        elif old is None:
            details["notes"].append("the original does not parse: signatures not compared")
    return _result("reply", True, f"the reply defines `{name}`", details, started)


def syntax_gate(code: str, context: str = "") -> GateResult:
    """``ast`` must parse the code, tree-sitter find no error, ruff no blocking finding."""
    from evolution.codecheck import RuffUnavailable, ast_error, ruff_check, syntax_error_count

    started = time.perf_counter()
    error = ast_error(code)
    tree_sitter_errors = syntax_error_count(code)
    details: dict[str, Any] = {"tree_sitter_errors": tree_sitter_errors}
    if error is not None:
        return _result("syntax", False, f"the code does not parse: {error}", details, started)
    if tree_sitter_errors:
        reason = f"tree-sitter finds {tree_sitter_errors} syntax errors"
        return _result("syntax", False, reason, details, started)
    prelude = context.strip("\n")
    offset = prelude.count("\n") + 2 if prelude else 0  # lines before the code
    program = f"{prelude}\n\n{code}" if prelude else code
    try:
        findings = [f for f in ruff_check(program) if f.line > offset]
    except RuffUnavailable as exc:
        details["ruff"] = f"not run: {exc}"
        return _result("syntax", True, "parses (ruff could not run)", details, started)
    blocking = [f for f in findings if f.code not in ADVISORY_RUFF]
    details["ruff"] = [f"{f.line - offset}:{f.column} {f.code} {f.message}" for f in findings]
    if blocking:
        first = blocking[0]
        reason = f"ruff {first.code} at line {first.line - offset}: {first.message}"
        return _result("syntax", False, reason, details, started)
    return _result("syntax", True, "parses; no ruff errors", details, started)


async def execution_gate(
    sandbox: Sandbox,
    location: FunctionLocation | None,
    code: str,
    tests: str | None,
    name: str,
    timeout_s: float,
    path: str | None = None,
) -> GateResult:
    """Run the generated tests against the new code in the sandbox (``path``: the file's)."""
    started = time.perf_counter()
    if not tests or not tests.strip():
        return _result("execution", False, "the generator wrote no tests", {}, started)
    plan = plan_tests(tests, name)
    details: dict[str, Any] = {"asserts": plan.asserts}
    if plan.problem:
        return _result("execution", False, plan.problem, details, started)
    program = build_program(location, code, tests, plan, name, path)
    readable = _readable_folders(sandbox, path, details)
    result = await asyncio.to_thread(sandbox.run, program, timeout_s, readable_paths=readable)
    details.update(
        outcome=result.outcome.value,
        detail=result.detail,
        exc_type=result.exc_type,
        stdout=result.stdout[-_OUTPUT_TAIL:],
        stderr=result.stderr[-_OUTPUT_TAIL:],
        sandbox_s=round(result.duration_s, 3),
    )
    reason = _execution_reason(result, plan.asserts, timeout_s)
    return _result("execution", result.outcome.value == "passed", reason, details, started)


def _readable_folders(sandbox: Sandbox, path: str | None, details: dict[str, Any]) -> list[str]:
    """The folders of ``search_path`` the sandbox can show; why not the others, in details."""
    readable = []
    for folder in search_path(path):
        try:
            readable.append(sandbox.readable_folder(folder))
        except ValueError as exc:  # a file in /tmp itself, or a folder since removed
            details.setdefault("unreadable", []).append(str(exc))
    return readable


def _execution_reason(result: ExecResult, asserts: int, timeout_s: float) -> str:
    outcome = result.outcome.value
    detail = f": {result.detail}" if result.detail else ""
    if outcome == "passed":
        ran = next((ln for ln in result.stdout.splitlines() if ln.startswith(RAN_MARKER)), "")
        return f"the tests passed ({asserts} asserts; {ran.removeprefix(RAN_MARKER) or 'run'})"
    return {
        "failed": f"a test failed{detail}",
        "error": f"the tests raised {result.exc_type or 'an error'}{detail}",
        "syntax_error": f"the tests do not compile{detail}",
        "timeout": f"the tests ran past {timeout_s:g} s and were stopped (a hang?)",
        "oom": f"the tests ran out of memory{detail}",
        "crashed": f"the test process crashed{detail}",
    }.get(outcome, f"{outcome}{detail}")


def _result(
    name: str, passed: bool, reason: str, details: dict[str, Any], started: float
) -> GateResult:
    return GateResult(name, passed, reason, details, round(time.perf_counter() - started, 4))
