"""One ``evoselfcode datagen`` run: the stages in order, each generated, then finalized.

For each stage (names, then code): plan every work item, keep this shard's, skip the ones
whose records are already in the parts folder, request the rest (at most
``io.concurrency`` at a time), then — on a whole run, or with ``--merge`` — turn every part on
disk into the stage's outputs. A shard run (``--shard i/N``) only generates: the stage's
outputs need every shard, so they come from a later ``--merge`` where all the parts were
gathered. A stage that stopped early (unreachable endpoint, refused key, full disk,
interrupted) is not finalized and later stages do not start: rerun the same command to resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from evolution.clients import CompletionClient, OpenAIClient, completion_client
from evolution.datagen.config import DatagenConfig
from evolution.datagen.errors import InputError
from evolution.datagen.items import WHOLE_RUN, ShardSpec
from evolution.datagen.pipeline import codegen, namegen, scoring
from evolution.datagen.runner import Fetch, HasId, RunStats, run_items
from evolution.datagen.writer import Parts, WriteFn

Stage = Literal["names", "code"]
STAGES: tuple[Stage, ...] = ("names", "code")


@dataclass
class RunOptions:
    """How to run: which stages, which shard, merge only, and how to report progress."""

    stages: tuple[Stage, ...] = STAGES
    shard: ShardSpec | None = None  # None: the whole run, finalized at the end
    merge_only: bool = False
    progress: Literal["bar", "json"] = "bar"
    progress_stream: IO[str] | None = None
    handle_signals: bool = False  # Ctrl-C / SIGTERM stop cleanly (the CLI turns this on)
    benchmark_names: frozenset[str] | None = None  # None: from filters.benchmarks
    write: WriteFn = os.write  # tests pass one that fills the disk


@dataclass
class StageReport:
    """What one stage did, for the summary and the final JSON line."""

    stage: str
    generation: RunStats | None = None  # None with --merge
    scoring: RunStats | None = None
    finalized: bool = False
    missing_items: int = 0
    outputs: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def stopped(self) -> str | None:
        for stats in (self.generation, self.scoring):
            if stats is not None and stats.stopped:
                return stats.stopped
        return None

    @property
    def failed(self) -> int:
        return sum(stats.failed for stats in (self.generation, self.scoring) if stats)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "generation": self.generation.to_dict() if self.generation else None,
            "scoring": self.scoring.to_dict() if self.scoring else None,
            "finalized": self.finalized,
            "missing_items": self.missing_items,
            "outputs": self.outputs,
            "summary": self.summary,
        }


class Orchestrator:
    """Runs the stages of one command; ``await run()`` once."""

    def __init__(self, config: DatagenConfig, options: RunOptions) -> None:
        self.config = config
        self.options = options
        self.shard = options.shard or WHOLE_RUN
        self._client: CompletionClient | None = None
        self._benchmarks = options.benchmark_names
        self._stop = asyncio.Event()

    async def run(self) -> list[StageReport]:
        reports: list[StageReport] = []
        with self._signals():
            try:
                for stage in self.options.stages:
                    report = await (self._names() if stage == "names" else self._code())
                    reports.append(report)
                    if report.stopped or not report.finalized:
                        break
            finally:
                if self._client is not None:
                    await self._client.aclose()
        return reports

    # --- stages -----------------------------------------------------------------------------

    async def _names(self) -> StageReport:
        report, outcome = await self._stage("names", namegen, self.config.io.out_names_dir)
        if outcome is not None:
            arms = outcome.metrics["arms"]
            report.summary = {
                "completions": outcome.raw,
                "kept_names": outcome.kept,
                "arms": {arm: {key: arms[arm][key] for key in _ARM_SUMMARY} for arm in arms},
            }
        return report

    async def _code(self) -> StageReport:
        report, outcome = await self._stage("code", codegen, self.config.io.out_code_dir)
        if outcome is not None:
            metrics = outcome.metrics
            report.summary = {
                key: metrics[key] for key in ("samples", "kept", "reasons", "by_name_origin")
            }
            if self.config.filters.scoring.enabled:
                await self._score(report, outcome.kept, metrics)
        return report

    async def _stage(self, name: str, stage: Any, out_dir: str) -> tuple[StageReport, Any]:
        """Generate (unless merging) and finalize one stage (``namegen`` or ``codegen``);
        the outcome is None when the stage was not finalized."""
        config, report = self.config, StageReport(name)
        planned, settings = stage.plan(config), stage.settings(config)
        parts = Parts(out_dir, "raw")
        if not self.options.merge_only:
            report.generation = await self._generate(
                name, parts, self.shard.select(planned), settings,
                lambda client: stage.fetcher(client, config),
            )  # fmt: skip
            if report.stopped or self.options.shard is not None:
                return report, None
        records = self._merge(parts, settings)
        outcome = stage.finalize(
            config, records, planned, self._benchmark_names(), write=self.options.write
        )
        report.finalized, report.missing_items = True, outcome.missing_items
        report.outputs = [f"{out_dir}/{file}" for file in _OUTPUTS]
        return report, outcome

    async def _score(
        self, report: StageReport, kept: list[dict[str, Any]], metrics: dict[str, Any]
    ) -> None:
        config = self.config
        parts = Parts(config.io.out_code_dir, scoring.PHASE)

        def make_fetch(client: CompletionClient) -> Fetch:
            assert isinstance(client, OpenAIClient)  # config validation: scoring needs openai
            return scoring.fetcher(client, config)

        report.scoring = await self._generate(
            "scoring", parts, scoring.plan(config, kept), scoring.settings(config), make_fetch,
            tag=WHOLE_RUN.tag,
        )  # fmt: skip
        if report.scoring.stopped:
            return
        with parts.lock(WHOLE_RUN.tag):
            records = parts.scan().records
        section = scoring.finalize(config, kept, records, metrics, write=self.options.write)
        report.missing_items += section["missing"]
        report.outputs.append(f"{config.io.out_code_dir}/scored.jsonl")
        report.summary["scoring"] = {k: section[k] for k in ("scored", "missing", "perplexity")}

    # --- shared steps -----------------------------------------------------------------------

    async def _generate(
        self,
        label: str,
        parts: Parts,
        items: list[Any],
        settings: dict[str, Any],
        make_fetch: Callable[[CompletionClient], Fetch],
        *,
        tag: str | None = None,
    ) -> RunStats:
        """Request the items not yet on disk, writing their records as they come."""
        from models.progress import ProgressReporter

        tag = tag or self.shard.tag
        stats = RunStats(label, planned=len(items))
        parts.check_manifest(settings, write=self.options.write)
        with parts.lock(tag):
            done = parts.scan(own_tag=tag).item_ids
            todo: list[HasId] = [item for item in items if item.id not in done]
            stats.skipped = len(items) - len(todo)
            if not todo:
                return stats
            client = self._get_client()
            writer = parts.writer(tag, self.config.io.shard_size, write=self.options.write)
            report = ProgressReporter(
                len(todo),
                f"datagen {label}",
                json_lines=self.options.progress == "json",
                stream=self.options.progress_stream,
            )

            def on_item(stats: RunStats, item_id: str, error: str | None) -> None:
                message = f"{item_id}: {error}" if error else item_id
                report.update(message=message, stage=label, failed=stats.failed)

            try:
                await run_items(
                    todo,
                    make_fetch(client),
                    writer,
                    stats,
                    concurrency=self.config.io.concurrency,
                    max_consecutive_errors=self.config.io.max_consecutive_errors,
                    on_item=on_item,
                    stop=self._stop,
                )
            finally:
                writer.close()
                report.close()
        return stats

    def _merge(self, parts: Parts, settings: dict[str, Any]) -> list[dict[str, Any]]:
        """Every complete record on disk, once no run writes the folder any more."""
        if self.options.merge_only and not parts.files():
            raise InputError(
                f"nothing to merge: {parts.dir} holds no {parts.phase} parts (generate first, "
                "or gather the shards' parts folders there)"
            )
        parts.check_manifest(settings, write=self.options.write)
        parts.ensure_unlocked()
        return parts.scan().records

    def _get_client(self) -> CompletionClient:
        if self._client is None:
            api = self.config.api
            client_config = api.client_config(self.config.io.concurrency)
            if api.mode == "openai":
                self._client = completion_client(client_config)
            else:
                self._client = completion_client(
                    client_config,
                    mode="endpoint",
                    route=api.route or "/generate",
                    field_map=api.field_map or None,
                )
        return self._client

    def _benchmark_names(self) -> frozenset[str]:
        if self._benchmarks is None:
            from evaluation.datasets import benchmark_entry_points

            wanted = tuple(self.config.filters.benchmarks)
            self._benchmarks = benchmark_entry_points(wanted) if wanted else frozenset()
        return self._benchmarks

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """Ctrl-C and SIGTERM finish cleanly: requests in flight dropped, files closed."""
        if not self.options.handle_signals:
            yield
            return
        loop = asyncio.get_running_loop()
        installed = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, threads
                loop.add_signal_handler(signum, self._stop.set)
                installed.append(signum)
        try:
            yield
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)


_OUTPUTS = ("raw.jsonl", "filtered.jsonl", "metrics.json")
_ARM_SUMMARY = (
    "requests",
    "compliance_rate",
    "distinct_ratio",
    "weak_rate",
    "benchmark_collisions",
    "names_per_request",
    "empty",
)
