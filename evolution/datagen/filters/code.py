"""Judging generated functions: where a function ends, and whether it is kept.

``cut_function`` ends the code where the first top-level function ends (the first token back
at column 0 after its body), so a server that ignores the stop sequences, or a model that goes
on with a second function or a ``print`` call, still yields one function.

``CodeFilter.judge_all`` gives each sample the first failing check as its reason:

    empty        no code after the prompt
    truncated    the completion hit max_tokens before the function ended
    too_short    fewer than ``filters.min_code_len`` characters (stripped)
    syntax       ``ast.parse`` fails                            (filters.enable_ast)
    no_function  not exactly one top-level function with the expected name  (enable_ast)
    stub         the body does nothing: pass, ``...``, raise NotImplementedError (reject_stubs)
    benchmark    defines a benchmark task's entry point (from a description's free naming)
    ruff         ruff findings (``filters.ruff_select``, F and E9: undefined names, ...)
    duplicate    the same normalized AST as an earlier sample (formatting, comments,
                 docstrings and local names ignored)

ruff runs once over all the samples that reach it (one process, one file per sample) rather
than once per sample: about 5 ms for a process start each would dominate a large run.
"""

from __future__ import annotations

import ast
import io
import json
import subprocess
import tempfile
import tokenize
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from evolution.codecheck import RuffUnavailable, ast_error, normalized_ast_hash, parse_quietly

REASONS = (
    "empty",
    "truncated",
    "too_short",
    "syntax",
    "no_function",
    "stub",
    "benchmark",
    "ruff",
    "duplicate",
)


def cut_function(code: str) -> tuple[str, bool]:
    """``code`` up to the end of its first top-level statement, and whether that end was found.

    The end is found when a later line starts at column 0 (a DEDENT back to zero, or a new
    statement after a one-line body). Without such a line the whole text is returned with
    ``False``: the function may still be complete, or may have been cut by max_tokens.
    """
    lines = code.splitlines(keepends=True)
    depth, header_done = 0, False
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.INDENT:
                depth += 1
            elif token.type == tokenize.DEDENT:
                depth -= 1
                if depth == 0 and token.line:  # at the end of the text it proves nothing
                    return _trim("".join(lines[: token.start[0] - 1])), True
            elif token.type == tokenize.NEWLINE and depth == 0:
                header_done = True
            elif header_done and depth == 0 and token.type not in _LAYOUT and token.line:
                return _trim("".join(lines[: token.start[0] - 1])), True
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # unfinished code: keep it all and let the checks decide
    return (code.rstrip() + "\n" if code.strip() else ""), False


_LAYOUT = (tokenize.NL, tokenize.COMMENT, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.INDENT)


def _trim(code: str) -> str:
    """Drop trailing blank lines and column-0 comments (they belong to what follows)."""
    lines = code.splitlines(keepends=True)
    while lines and (not lines[-1].strip() or lines[-1].startswith("#")):
        lines.pop()
    return "".join(lines).rstrip() + "\n" if lines else ""


@dataclass(frozen=True)
class CodeSample:
    """What the filter needs to know of one generated sample."""

    code: str
    func_name: str | None  # None: a description's sample, any name will do
    complete: bool  # cut_function found the end of the function
    finish_reason: str | None


@dataclass(frozen=True)
class CodeVerdict:
    reason: str | None  # None: kept
    detail: str = ""
    ast_hash: str | None = None
    func_name: str | None = None  # the name the code defines

    @property
    def kept(self) -> bool:
        return self.reason is None


class CodeFilter:
    """The code checks of one run."""

    def __init__(
        self,
        *,
        min_len: int,
        enable_ast: bool,
        enable_ruff: bool,
        ruff_select: Sequence[str],
        reject_stubs: bool,
        benchmark_names: Collection[str],
    ) -> None:
        self.min_len = min_len
        self.enable_ast = enable_ast
        self.enable_ruff = enable_ruff
        self.ruff_select = tuple(ruff_select)
        self.reject_stubs = reject_stubs
        self.benchmark_names = frozenset(benchmark_names)

    def judge_all(self, samples: Sequence[CodeSample]) -> list[CodeVerdict]:
        """A verdict per sample, in order; duplicates are judged against earlier samples."""
        verdicts = [self._judge_alone(sample) for sample in samples]
        if self.enable_ruff:
            alive = [i for i, v in enumerate(verdicts) if v.kept]
            findings = ruff_many([samples[i].code for i in alive], self.ruff_select)
            for index, found in zip(alive, findings, strict=True):
                if found:
                    verdicts[index] = CodeVerdict(
                        "ruff",
                        "; ".join(found[:3]),
                        verdicts[index].ast_hash,
                        verdicts[index].func_name,
                    )
        seen: set[str] = set()
        for index, verdict in enumerate(verdicts):
            if not verdict.kept:
                continue
            key = verdict.ast_hash or samples[index].code.strip()
            if key in seen:
                verdicts[index] = CodeVerdict("duplicate", "", verdict.ast_hash, verdict.func_name)
            seen.add(key)
        return verdicts

    def _judge_alone(self, sample: CodeSample) -> CodeVerdict:
        code = sample.code
        body = code.split("(", 1)[1] if "(" in code else ""
        if not body.strip(" \t\n):"):
            return CodeVerdict("empty")
        if not sample.complete and sample.finish_reason == "length":
            return CodeVerdict("truncated", "max_tokens reached before the function ended")
        if len(code.strip()) < self.min_len:
            return CodeVerdict("too_short", f"{len(code.strip())} characters")
        if not self.enable_ast:
            return CodeVerdict(None, func_name=sample.func_name)
        error = ast_error(code)
        if error is not None:
            return CodeVerdict("syntax", error)
        function = _only_function(code)
        if function is None:
            return CodeVerdict("no_function", "not exactly one top-level function")
        if sample.func_name is not None and function.name != sample.func_name:
            return CodeVerdict("no_function", f"defines {function.name}, not {sample.func_name}")
        ast_hash = normalized_ast_hash(code)
        if self.reject_stubs and _is_stub(function):
            return CodeVerdict("stub", "", ast_hash, function.name)
        if function.name in self.benchmark_names:
            return CodeVerdict("benchmark", f"{function.name} is a benchmark entry point")
        return CodeVerdict(None, "", ast_hash, function.name)


def _only_function(code: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    tree = parse_quietly(code)
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    return tree.body[0]


def _is_stub(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # ``...`` or a stray string
        if isinstance(statement, ast.Raise) and "NotImplementedError" in ast.unparse(statement):
            continue
        return False
    return True


def ruff_many(
    codes: Sequence[str], select: Sequence[str], *, timeout_s: float = 600.0
) -> list[list[str]]:
    """ruff's findings (``"F821 Undefined name `x`"``) for each snippet, from one ruff process.

    Same flags as ``evolution.codecheck.ruff_check`` (``--isolated``: the user's ruff settings
    must not change what the filter checks).
    """
    if not codes:
        return []
    from ruff.__main__ import find_ruff_bin

    with tempfile.TemporaryDirectory(prefix="datagen-ruff-") as folder:
        root = Path(folder)
        for index, code in enumerate(codes):
            (root / f"s{index}.py").write_text(code, encoding="utf-8", errors="surrogatepass")
        command = [
            find_ruff_bin(),
            "check",
            "--isolated",
            "--no-cache",
            "--output-format",
            "json",
            "--select",
            ",".join(select),
            str(root),
        ]
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuffUnavailable(f"could not run ruff: {exc}") from exc
    if proc.returncode not in (0, 1):
        raise RuffUnavailable(f"ruff failed (exit {proc.returncode}): {proc.stderr.strip()}")
    found: list[list[str]] = [[] for _ in codes]
    for item in json.loads(proc.stdout or "[]"):
        index = int(Path(item["filename"]).stem[1:])
        code = item.get("code") or "invalid-syntax"
        found[index].append(f"{code} {item.get('message', '')}".strip())
    return found
