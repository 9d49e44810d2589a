"""HumanEval single-line infilling, derived from the canonical solutions.

For every non-blank line *i* of a task's canonical solution there is one infill task: the
prefix is the prompt plus the solution's lines before *i*, the hidden middle is line *i*, and
the suffix is the rest. A completion is scored by running prefix + completion + suffix against
the task's tests (the pass rate) and by exact match against the hidden line (ignoring
surrounding whitespace), as in the FIM evaluations of InCoder, SantaCoder and Qwen2.5-Coder.
Catches FIM regressions that left-to-right HumanEval cannot see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from evaluation.tasks import Task

INFILL_DATASET = "humaneval-infill"


def single_line_infill_tasks(tasks: Iterable[Task]) -> list[Task]:
    """One infill task per non-blank canonical-solution line; ids are ``<task_id>/L<line>``."""
    derived: list[Task] = []
    for task in tasks:
        lines = (task.canonical_solution or "").splitlines(keepends=True)
        for index, line in enumerate(lines):
            if not line.strip():
                continue
            derived.append(
                replace(
                    task,
                    task_id=f"{task.task_id}/L{index}",
                    prompt=task.prompt + "".join(lines[:index]),
                    suffix="".join(lines[index + 1 :]),
                    canonical_solution=line if line.endswith("\n") else line + "\n",
                    kind="infill",
                    dataset=INFILL_DATASET,
                )
            )
    return derived


def single_line(completion: str) -> str:
    """The first line of a model's infill output, newline-terminated (what gets inserted)."""
    return completion.split("\n", 1)[0] + "\n"


def exact_match(completion: str, expected: str) -> bool:
    """Whether the completed line equals the hidden one, surrounding whitespace aside."""
    return single_line(completion).strip() == expected.strip()
