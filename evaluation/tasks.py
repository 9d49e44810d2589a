"""``Task``: one benchmark problem, and conversion of dataset rows (HumanEval or MBPP shape)."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from evaluation.errors import DatasetError

# How a task is put to a model: auto (by the model's kind), base (continue the code) or
# instruct (a chat turn). The evaluation CLI and the fine-tune gate offer the same choices.
PromptFormat = Literal["auto", "base", "instruct"]
PROMPT_FORMATS: tuple[str, ...] = get_args(PromptFormat)

TaskKind = Literal["complete", "infill"]
HUMANEVAL_FIELDS = ("task_id", "prompt", "entry_point", "test")
MBPP_FIELDS = ("task_id", "code", "test_list")


@dataclass(frozen=True)
class Task:
    """One problem. A completion is checked by running ``prompt + completion + suffix``, then
    ``test`` (which defines ``check(candidate)``), then ``check(entry_point)``.

    ``canonical_solution`` is a known-good completion when the dataset has one. For
    ``kind == "infill"`` the completion fills one line between ``prompt`` and ``suffix``, and
    ``canonical_solution`` is that line (exact match is scored against it).
    """

    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str | None = None
    suffix: str = ""
    kind: TaskKind = "complete"
    dataset: str = ""


def task_from_row(row: Mapping[str, Any], dataset: str) -> Task:
    """A ``Task`` from a HumanEval-shaped or MBPP-shaped row; ``DatasetError`` otherwise."""
    if all(name in row for name in HUMANEVAL_FIELDS):
        return _humaneval_task(row, dataset)
    if all(name in row for name in MBPP_FIELDS):
        return mbpp_task(row, dataset)
    raise DatasetError(
        f"a row with fields {sorted(row)} is neither HumanEval-shaped "
        f"({', '.join(HUMANEVAL_FIELDS)}) nor MBPP-shaped ({', '.join(MBPP_FIELDS)})"
    )


def _humaneval_task(row: Mapping[str, Any], dataset: str) -> Task:
    for name in HUMANEVAL_FIELDS:
        if not isinstance(row[name], str) or (name != "test" and not row[name]):
            raise DatasetError(f"field {name!r} must be a non-empty string")
    canonical = row.get("canonical_solution")
    if canonical is not None and not isinstance(canonical, str):
        raise DatasetError("field 'canonical_solution' must be a string when present")
    if not row["entry_point"].isidentifier():
        raise DatasetError(f"entry_point {row['entry_point']!r} is not a Python name")
    return Task(
        task_id=row["task_id"],
        prompt=row["prompt"],
        entry_point=row["entry_point"],
        test=row["test"],
        canonical_solution=canonical,
        dataset=dataset,
    )


def mbpp_task(row: Mapping[str, Any], dataset: str) -> Task:
    """An MBPP problem in the usual (EvalPlus) prompt format: the description and the first
    test in a docstring; the model writes the whole function after it."""
    code = str(row["code"]).replace("\r\n", "\n")
    tests = [str(t) for t in row["test_list"]]
    if not tests:
        raise DatasetError(f"MBPP task {row['task_id']} has no tests")
    description = str(row.get("text") or row.get("prompt") or "").strip()
    imports = "\n".join(str(i) for i in row.get("test_imports") or [])
    setup = str(row.get("test_setup_code") or "")
    check_body = "\n".join(f"    {line}" for line in tests)
    return Task(
        task_id=f"Mbpp/{row['task_id']}",
        prompt=f'"""\n{description}\n{tests[0]}\n"""\n',
        entry_point=mbpp_entry_point(code, tests[0]),
        test=f"{imports}\n{setup}\n\ndef check(candidate):\n{check_body}\n",
        canonical_solution=code,
        dataset=dataset,
    )


def mbpp_entry_point(code: str, first_test: str) -> str:
    """The function of ``code`` that the first test calls (the last one defined, failing that)."""
    try:
        defined = [
            node.name
            for node in ast.parse(code).body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
    except SyntaxError as exc:
        raise DatasetError(f"MBPP reference code does not parse: {exc}") from exc
    called = re.findall(r"\b([A-Za-z_]\w*)\s*\(", first_test)
    for name in called:
        if name in defined:
            return name
    if defined:
        return defined[-1]
    raise DatasetError("MBPP reference code defines no function")
