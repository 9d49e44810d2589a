"""Stage A: function names from the FIM and left-to-right prompts, filtered, deduplicated.

Generation writes raw completions to the parts folder (``writer``); ``finalize`` turns every
part on disk into ``raw.jsonl`` (all completions, in item order), ``filtered.jsonl`` (one
line per kept name across both arms, with provenance) and ``metrics.json`` (the A/B
statistics). Finalizing is deterministic: the same parts give the same files, however the
requests were scheduled, interrupted or split across machines.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.clients import CompletionClient
from evolution.datagen.config import DatagenConfig
from evolution.datagen.filters.names import NameFilter
from evolution.datagen.items import WorkItem, name_items
from evolution.datagen.pipeline.abtest import JudgedName, ab_metrics
from evolution.datagen.pipeline.request import completion_fetcher
from evolution.datagen.runner import Fetch
from evolution.datagen.schemas import (
    SCHEMA_VERSION,
    name_records,
    sampling_params,
    strip_part_fields,
)
from evolution.datagen.writer import WriteFn, write_json, write_jsonl

STAGE = "names"


def plan(config: DatagenConfig) -> list[WorkItem]:
    return name_items(config)


def settings(config: DatagenConfig) -> dict[str, Any]:
    """What shapes stage A's raw records: a resumed run must not change it.

    ``requests_per_arm`` and ``arms`` are left out: changing them adds or leaves out items,
    it does not change finished ones. The filters are applied when finalizing, so they may
    change between runs too.
    """
    prompts = config.prompts
    return {
        "model": config.api.model,
        "send_seed": config.api.send_seed,
        "prompts": [
            prompts.global_prefix,
            prompts.fim_prefix,
            prompts.fim_suffix,
            prompts.fim_middle,
        ],
        "sampling": sampling_params(config.namegen),
        "seed": config.namegen.seed,
    }


def fetcher(client: CompletionClient, config: DatagenConfig) -> Fetch:
    """The request of one stage A item; both arms send the same sampling parameters."""
    return completion_fetcher(client, config, config.namegen, name_records)


def name_filter(config: DatagenConfig, benchmark_names: Collection[str]) -> NameFilter:
    return NameFilter(
        name_regex=config.filters.name_regex,
        weaklist=config.namegen.weaklist,
        benchmark_names=benchmark_names,
        stops=config.namegen.stop,
        end_tokens=config.prompts.end_tokens,
        reject_builtins=config.filters.reject_builtins,
    )


@dataclass(frozen=True)
class NamesOutcome:
    """What finalizing stage A wrote."""

    raw: int
    kept: int
    missing_items: int
    metrics: dict[str, Any]


def finalize(
    config: DatagenConfig,
    records: list[dict[str, Any]],
    planned: list[WorkItem],
    benchmark_names: Collection[str],
    *,
    write: WriteFn = os.write,
) -> NamesOutcome:
    """Write ``raw.jsonl``, ``filtered.jsonl`` and ``metrics.json`` from the parts' records."""
    out = Path(config.io.out_names_dir)
    raw = in_plan_order(records, planned)
    names = name_filter(config, benchmark_names)
    judged = [
        JudgedName(
            r["source"],
            r["item_id"],
            r["id"],
            r["text"],
            names.judge(r["text"], r["finish_reason"]),
        )
        for r in raw
    ]
    filtered = _deduplicated(judged, raw, config.namegen.arms)
    finished = {r["item_id"] for r in raw}
    requests = Counter(item.source for item in planned if item.id in finished)
    metrics = {
        "schema_version": SCHEMA_VERSION,
        "stage": STAGE,
        "complete": len(finished) == len(planned),
        "items": {"planned": len(planned), "finished": len(finished)},
        "completions": len(raw),
        "kept_names": len(filtered),
        "params": sampling_params(config.namegen),
        "model": config.api.model,
        **ab_metrics(judged, config.namegen.arms, dict(requests), names),
    }
    write_jsonl(out / "raw.jsonl", (strip_part_fields(r) for r in raw), write=write)
    write_jsonl(out / "filtered.jsonl", filtered, write=write)
    write_json(out / "metrics.json", metrics, write=write)
    return NamesOutcome(len(raw), len(filtered), len(planned) - len(finished), metrics)


def in_plan_order(records: list[dict[str, Any]], planned: list[WorkItem]) -> list[dict[str, Any]]:
    """The records of planned items, by item in plan order, then by choice."""
    order = {item.id: position for position, item in enumerate(planned)}
    chosen = [r for r in records if r["item_id"] in order]
    return sorted(chosen, key=lambda r: (order[r["item_id"]], int(r["id"].rsplit("#", 1)[1])))


def _deduplicated(
    judged: list[JudgedName], raw: list[dict[str, Any]], arms: Sequence[str]
) -> list[dict[str, Any]]:
    """One record per kept name, in order of first appearance, with every arm's count."""
    counts: dict[str, Counter[str]] = {}
    first: dict[str, tuple[JudgedName, dict[str, Any]]] = {}
    for j, record in zip(judged, raw, strict=True):
        if not j.verdict.kept:
            continue
        counts.setdefault(j.verdict.name, Counter())[j.arm] += 1
        first.setdefault(j.verdict.name, (j, record))
    out = []
    for name, (j, record) in first.items():
        tally = counts[name]
        source = max(arms, key=lambda arm: (tally[arm], -arms.index(arm)))
        out.append(
            {
                "schema_version": SCHEMA_VERSION,
                "func_name": name,
                "source": source,
                "sources": {arm: tally[arm] for arm in arms if tally[arm]},
                "first_id": j.record_id,
                "meta": record["meta"],
            }
        )
    return out
