"""``evoselfcode evolve`` from parsed arguments: set up, run the batch, report (bar or JSON)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import TYPE_CHECKING

from evolution.evolve.batch import (
    BatchState,
    BatchSummary,
    file_key,
    read_instructions,
    run_batch,
    unfinished,
)
from evolution.evolve.errors import EvolveError
from evolution.evolve.settings import EvolveSettings

if TYPE_CHECKING:
    from evolution.evolve.batch import BatchItem
    from evolution.evolve.result import EvolveResult
    from evolution.store import TrainingStore
    from models.progress import ProgressReporter

EXIT_UNFINISHED = 1  # stopped early, or errors left instructions undone: rerun to resume
EXIT_FAILED = 2  # bad input, or the sandbox could not start: nothing was run


async def run_from_args(args: argparse.Namespace) -> int:
    """Run the command; the exit status says whether the batch finished."""
    from evolution.clients.errors import ClientConfigError
    from evolution.store import TrainingStore
    from models.paths import resolve_data_dir
    from models.progress import ProgressReporter

    report = ProgressReporter(None, "evolve", json_lines=args.progress == "json")
    try:
        items = read_instructions(args.instructions)
        settings = settings_from_args(args)
    except (EvolveError, ClientConfigError) as exc:
        return _fail(report, str(exc))
    data_dir = resolve_data_dir(args.data_dir)
    with (
        TrainingStore.in_data_dir(data_dir) as store,
        contextlib.closing(BatchState(data_dir, file_key(args.instructions))) as state,
    ):
        try:
            summary = await _run(args, items, settings, store, state, report)
        except _SandboxUnavailable as exc:
            return _fail(report, f"the sandbox cannot run generated code: {exc}")
        finally:
            report.close()
    report.result(**summary.to_dict(), store=str(store.path), state=str(state.path))
    if not report.json_lines:
        print(summary_text(summary, str(store.path)), file=sys.stderr)
    # Errors (network, keys) leave their instructions unfinished, whether or not they stopped
    # the batch: a script must not take such a run for a finished one.
    return EXIT_UNFINISHED if summary.stopped_early or summary.errors else 0


def settings_from_args(args: argparse.Namespace) -> EvolveSettings:
    return EvolveSettings.from_endpoints(
        args.generator_url,
        args.verifier_url,
        generator_model=args.generator_model,
        verifier_model=args.verifier_model,
        request_timeout_s=args.request_timeout,
        max_retries=args.max_retries,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        test_timeout_s=args.test_timeout,
        min_verifier_confidence=args.min_confidence,
        require_confidence=args.require_confidence,
        allow_guard_only=args.allow_guard_only,
        gates=args.gates,
    )


class _SandboxUnavailable(Exception):
    pass


async def _run(
    args: argparse.Namespace,
    items: list[BatchItem],
    settings: EvolveSettings,
    store: TrainingStore,
    state: BatchState,
    report: ProgressReporter,
) -> BatchSummary:
    from evaluation.sandbox import Sandbox

    report.set_total(len(items))
    todo = unfinished(items, state, store)
    if len(todo) < len(items):
        report.update(len(items) - len(todo), message="skipped: finished by an earlier run")
    if not todo:
        return BatchSummary(total=len(items), skipped=len(items))

    def on_item(item: BatchItem, status: str, result: EvolveResult) -> None:
        message = f"{item.id}: {status}"
        report.update(message=message, id=item.id, status=status, reason=result.reason)

    workers = args.sandbox_workers or max(1, min(args.concurrency, os.cpu_count() or 1))
    try:
        sandbox = Sandbox(workers=workers)
    except Exception as exc:  # whatever stops the sandbox, the user gets its reason
        raise _SandboxUnavailable(str(exc)) from exc
    refusal = sandbox.isolation.refusal(settings.allow_guard_only)
    if refusal is not None:  # before any generator call: every instruction would be refused
        sandbox.close()
        raise _SandboxUnavailable(refusal)
    with sandbox:
        return await run_batch(
            items,
            settings,
            store,
            state,
            sandbox=sandbox,
            concurrency=args.concurrency,
            max_consecutive_errors=args.max_consecutive_errors,
            on_item=on_item,
        )


def _fail(report: ProgressReporter, message: str) -> int:
    report.error(message)
    report.close()
    if not report.json_lines:
        print(f"evoselfcode evolve: {message}", file=sys.stderr)
    return EXIT_FAILED


def summary_text(summary: BatchSummary, store_path: str) -> str:
    """The summary for a person: gates passed, rejections, records, errors."""
    gates = ", ".join(f"{name} {count}" for name, count in summary.passed.items()) or "none"
    rejected = ", ".join(f"{name} {count}" for name, count in summary.rejected_by.items())
    errors = ", ".join(f"{kind} {count}" for kind, count in summary.errors.items())
    lines = [
        f"evolve: {summary.processed} processed, {summary.skipped} skipped (done before), "
        f"{summary.total} in the file, {summary.duration_s:.1f} s",
        f"  passed per gate: {gates}",
        f"  rejected by: {rejected or 'none'}",
        f"  recorded: {summary.recorded} ({summary.flagged} flagged by decontamination), "
        f"duplicates: {summary.duplicates}",
        f"  errors: {errors or 'none'}",
        *([f"  last error: {summary.last_error}"] if summary.last_error else []),
        f"  store: {store_path}",
    ]
    if summary.stopped_early:
        lines.append(f"  {summary.stopped_early}; run the same command again to resume")
    return "\n".join(lines)
