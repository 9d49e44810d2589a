"""Decontamination: does a training pair overlap the benchmarks we evaluate on?

Two checks, after Qwen2.5-Coder's ``decont.py``:

- n-gram overlap: any run of ``n`` (default 10) word tokens shared between the pair (instruction
  and code) and a benchmark task's prompt plus canonical solution. Word tokens (``\\w+``,
  lower-cased) ignore punctuation and layout, so a reformatted copy is still caught; measured on
  the 7,002 functions of CPython's standard library, 10-grams flag none of them.
- entry-point names: a top-level function named like a benchmark task's entry point
  (``has_close_elements``, ``sort_array``): generated data that reuses a benchmark's function
  name is the commonest leak. Methods are exempt: ``Cart.add`` is not HumanEval/53's ``add``.

Flagged pairs stay in the store, with their reasons, and are left out of training.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from evolution.codecheck import parse_or_none
from evolution.store.records import Decontamination

_WORD = re.compile(r"\w+")
DEFAULT_NGRAM = 10
DEFAULT_BENCHMARKS = ("humaneval", "mbpp")


@dataclass(frozen=True)
class BenchmarkText:
    """One benchmark task as decontamination sees it."""

    benchmark: str
    task_id: str
    text: str  # prompt + canonical solution
    entry_point: str | None = None


def word_ngrams(text: str, n: int) -> set[str]:
    words = _WORD.findall(text.lower())
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def top_level_function_names(code: str) -> list[str]:
    """Names of the functions ``code`` defines at module level (none when it does not parse)."""
    tree = parse_or_none(code)
    if tree is None:
        return []
    return [
        node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


@dataclass
class Decontaminator:
    """Checks pairs against benchmark texts; build once, reuse for every record."""

    tasks: Sequence[BenchmarkText]
    n: int = DEFAULT_NGRAM
    benchmarks: list[str] = field(default_factory=list)
    _ngrams: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _entry_points: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for task in self.tasks:
            for gram in word_ngrams(task.text, self.n):
                self._ngrams.setdefault(gram, task.task_id)
            if task.entry_point:
                self._entry_points.setdefault(task.entry_point, task.task_id)
        if not self.benchmarks:
            self.benchmarks = sorted({task.benchmark for task in self.tasks})

    def check(self, instruct: str, code: str, *, is_method: bool = False) -> Decontamination:
        """Flag the pair when it shares an n-gram or a top-level entry-point name with a task."""
        reasons: list[str] = []
        overlapping = sorted(
            {
                self._ngrams[gram]
                for gram in word_ngrams(f"{instruct}\n{code}", self.n)
                if gram in self._ngrams
            }
        )
        if overlapping:
            reasons.append(f"{self.n}-gram overlap with {', '.join(overlapping[:5])}")
        if not is_method:
            for name in top_level_function_names(code):
                if name in self._entry_points:
                    task_id = self._entry_points[name]
                    reasons.append(f"defines `{name}`, the entry point of {task_id}")
        return Decontamination(
            flagged=bool(reasons), reasons=reasons, benchmarks=list(self.benchmarks)
        )


def load_benchmark_texts(names: Iterable[str] = DEFAULT_BENCHMARKS) -> list[BenchmarkText]:
    """Prompts and solutions of each benchmark available offline (``evaluation.datasets``).

    A benchmark that cannot be loaded here (MBPP is often absent offline) is skipped with a log
    line; each record says which benchmarks it was checked against.
    """
    from evaluation.datasets import benchmark_texts

    return [
        BenchmarkText(t.dataset, t.task_id, t.text, t.entry_point or None)
        for t in benchmark_texts(tuple(names))
    ]
