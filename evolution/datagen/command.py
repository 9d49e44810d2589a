"""``evoselfcode datagen`` from parsed arguments: check the flags, run, summarise, exit status."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from evolution.clients import ClientConfigError
from evolution.codecheck import RuffUnavailable
from evolution.datagen.config import DatagenConfig, load_config
from evolution.datagen.errors import DatagenError, InputError
from evolution.datagen.items import ShardSpec
from evolution.datagen.pipeline.orchestrator import STAGES, Orchestrator, RunOptions, StageReport

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_INCOMPLETE = 0, 1  # bad config, flags or input: DatagenError.exit_code (2)


def run_command(args: argparse.Namespace) -> int:
    from models.progress import ProgressReporter

    json_mode = args.progress == "json"
    say = ProgressReporter(None, "datagen", json_lines=True) if json_mode else None
    try:
        config = load_config(args.config)
        shard = _check_flags(args)
    except DatagenError as exc:
        return _fail(say, str(exc), exc.exit_code)
    from evolution.datagen.logs import run_log

    try:
        with run_log(config.io.logs_dir) as log_path:
            logger.info(
                "datagen --stage %s%s%s: %s (%s), model %s",
                args.stage,
                f" --shard {args.shard}" if shard else "",
                " --merge" if args.merge else "",
                config.api.base_url,
                config.api.mode,
                config.api.model,
            )
            if args.stage == "import":
                result, code = _import(config, args), EXIT_OK
                text = _import_text(result)
            else:
                reports = asyncio.run(_run(config, args, shard))
                code = _exit_code(reports)
                result = {"stages": [report.to_dict() for report in reports]}
                text = "\n".join(_stage_text(report, shard) for report in reports)
    except DatagenError as exc:
        return _fail(say, str(exc), exc.exit_code)
    except ClientConfigError as exc:  # a setting the client refused when it was made
        return _fail(say, f"{args.config}: {exc}", 2)
    except RuffUnavailable as exc:
        return _fail(say, f"{exc} (or set filters.enable_ruff: false)", EXIT_INCOMPLETE)
    except OSError as exc:  # the logs folder, a parts folder that cannot be created
        return _fail(say, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
    if say is not None:
        say.result(exit_code=code, log=str(log_path), **result)
    else:
        print(f"{text}\nlog: {log_path}", file=sys.stderr)
    return code


def _check_flags(args: argparse.Namespace) -> ShardSpec | None:
    shard = ShardSpec.parse(args.shard) if args.shard else None
    if args.stage == "import" and (shard or args.merge):
        raise InputError("--stage import takes neither --shard nor --merge")
    if shard and args.merge:
        raise InputError("--merge gathers every shard: drop --shard")
    if shard and args.stage == "all":
        raise InputError(
            "--shard needs --stage names or --stage code: stage B works from the merged names, "
            "so run `--stage names --shard i/N` everywhere, merge, then `--stage code --shard i/N`"
        )
    return shard


async def _run(config: DatagenConfig, args: argparse.Namespace, shard: ShardSpec | None):
    stages = STAGES if args.stage == "all" else (args.stage,)
    options = RunOptions(
        stages=stages,
        shard=shard,
        merge_only=args.merge,
        progress=args.progress,
        handle_signals=True,
    )
    return await Orchestrator(config, options).run()


def _import(config: DatagenConfig, args: argparse.Namespace) -> dict[str, Any]:
    from evolution.datagen.importer import import_filtered
    from evolution.store import TrainingStore
    from models.paths import resolve_data_dir
    from models.progress import ProgressReporter

    with (
        TrainingStore.in_data_dir(resolve_data_dir(args.data_dir)) as store,
        ProgressReporter(None, "datagen import", json_lines=args.progress == "json") as report,
    ):
        summary = import_filtered(
            config, store, on_record=lambda s: report.update(added=s.added, flagged=s.flagged)
        )
    return summary.to_dict()


def _exit_code(reports: list[StageReport]) -> int:
    for report in reports:
        if report.stopped or report.failed or report.missing_items:
            return EXIT_INCOMPLETE
    return EXIT_OK


def _fail(say: Any, message: str, code: int) -> int:
    if say is not None:
        say.error(message)
    else:
        print(f"evoselfcode datagen: {message}", file=sys.stderr)
    return code


def _stage_text(report: StageReport, shard: ShardSpec | None) -> str:
    lines = []
    for stats in (report.generation, report.scoring):
        if stats is None:
            continue
        errors = ", ".join(f"{kind} {n}" for kind, n in sorted(stats.errors.items())) or "none"
        lines.append(
            f"datagen {stats.phase}: {stats.skipped + stats.done} of {stats.planned} requests "
            f"done ({stats.done} now, {stats.skipped} before), {stats.failed} failed "
            f"[{errors}], {stats.records} records, {stats.duration_s:.1f} s"
        )
        if stats.stopped:
            lines.append(f"  stopped: {stats.stopped}")
    summary = report.summary
    if report.stage == "names" and report.finalized:
        lines.append(
            f"  names: {summary['kept_names']} kept of {summary['completions']} completions"
        )
        for arm, m in summary["arms"].items():
            lines.append(
                f"  {arm:<4} compliance {_num(m['compliance_rate'])}, distinct "
                f"{_num(m['distinct_ratio'])}, weak {_num(m['weak_rate'])}, benchmark collisions "
                f"{m['benchmark_collisions']}, names/request {_num(m['names_per_request'])}, "
                f"empty {m['empty']} ({m['requests']} requests)"
            )
    if report.stage == "code" and report.finalized:
        dropped = ", ".join(f"{k} {v}" for k, v in summary["reasons"].items()) or "nothing"
        lines.append(f"  code: {summary['kept']} kept of {summary['samples']}; dropped: {dropped}")
        origins = ", ".join(
            f"{origin} {_num(m['pass_rate'])} ({m['samples']})"
            for origin, m in summary["by_name_origin"].items()
        )
        lines.append(f"  pass rate by name origin: {origins or 'none'}")
        if "scoring" in summary:
            lines.append(f"  scored: {summary['scoring']['scored']}")
    if report.finalized:
        lines.append(f"  wrote {', '.join(report.outputs)}")
        if report.missing_items:
            lines.append(f"  incomplete: {report.missing_items} items have no output yet")
    elif shard is not None and not report.stopped:
        lines.append(
            f"  shard {shard.index}/{shard.count} done; when every shard is, gather the parts/ "
            f"folders and run --stage {report.stage} --merge"
        )
    if report.stopped or report.failed or report.missing_items:
        lines.append("  run the same command again to resume")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _import_text(result: dict[str, Any]) -> str:
    return (
        f"datagen import: {result['read']} read, {result['added']} added "
        f"({result['flagged']} flagged by decontamination), {result['duplicates']} duplicates, "
        f"{result['imported_before']} imported before, {result['invalid']} invalid\n"
        f"  store: {result['store']}"
    )
