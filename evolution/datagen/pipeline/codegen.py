"""Stage B: a function for every kept name (and every description), then the code filters.

Generation writes raw samples to the parts folder; ``finalize`` orders them by item, runs the
filters (``filters.code``) and writes ``raw.jsonl``, ``filtered.jsonl`` (the design's record
shape) and ``metrics.json``. ``metrics.json`` breaks the pass rate down by where the name came
from (FIM only, L2R only, both arms, or a description): the part of the A/B comparison that
only stage B can give.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.clients import CompletionClient
from evolution.datagen.config import DatagenConfig
from evolution.datagen.errors import InputError
from evolution.datagen.filters.code import CodeFilter, CodeSample, CodeVerdict
from evolution.datagen.items import WorkItem, code_items, read_descriptions
from evolution.datagen.pipeline.namegen import in_plan_order
from evolution.datagen.pipeline.request import completion_fetcher
from evolution.datagen.runner import Fetch
from evolution.datagen.schemas import (
    SCHEMA_VERSION,
    code_records,
    sampling_params,
    strip_part_fields,
)
from evolution.datagen.writer import WriteFn, read_jsonl, write_json, write_jsonl

STAGE = "code"
_EXAMPLES = 5


def plan(config: DatagenConfig) -> list[WorkItem]:
    """One item per kept name of stage A and per description; ``InputError`` when neither."""
    names_file = Path(config.io.out_names_dir) / "filtered.jsonl"
    names = read_jsonl(names_file) if names_file.is_file() else []
    descriptions = []
    if config.io.input_desc_path:
        forbidden = [
            config.prompts.fim_prefix,
            config.prompts.fim_suffix,
            config.prompts.fim_middle,
        ]
        descriptions = read_descriptions(
            config.io.input_desc_path, forbidden + config.prompts.end_tokens
        )
    if not names_file.is_file() and not descriptions:
        raise InputError(
            f"no names to write functions for: {names_file} does not exist (run "
            "`evoselfcode datagen --stage names` first) and io.input_desc_path is not set"
        )
    for number, record in enumerate(names, start=1):
        if not isinstance(record.get("func_name"), str) or not isinstance(
            record.get("source"), str
        ):
            raise InputError(f"{names_file}, line {number}: no func_name/source")
    items = code_items(config, names, descriptions)
    if not items:
        raise InputError(
            f"no names to write functions for: stage A kept none (see {names_file.parent}/"
            "metrics.json for why) and io.input_desc_path is not set"
        )
    return items


def settings(config: DatagenConfig) -> dict[str, Any]:
    """What shapes stage B's raw records (a resumed run must keep it)."""
    return {
        "model": config.api.model,
        "send_seed": config.api.send_seed,
        "global_prefix": config.prompts.global_prefix,
        "sampling": sampling_params(config.codegen),
        "seed": config.codegen.seed,
    }


def fetcher(client: CompletionClient, config: DatagenConfig) -> Fetch:
    """The request of one stage B item."""
    return completion_fetcher(client, config, config.codegen, code_records)


def code_filter(config: DatagenConfig, benchmark_names: Collection[str]) -> CodeFilter:
    filters = config.filters
    return CodeFilter(
        min_len=filters.min_code_len,
        enable_ast=filters.enable_ast,
        enable_ruff=filters.enable_ruff,
        ruff_select=filters.ruff_select,
        reject_stubs=filters.reject_stubs,
        benchmark_names=benchmark_names,
    )


@dataclass(frozen=True)
class CodeOutcome:
    raw: int
    kept: list[dict[str, Any]]
    missing_items: int
    metrics: dict[str, Any]


def finalize(
    config: DatagenConfig,
    records: list[dict[str, Any]],
    planned: list[WorkItem],
    benchmark_names: Collection[str],
    *,
    write: WriteFn = os.write,
) -> CodeOutcome:
    """Write ``raw.jsonl``, ``filtered.jsonl`` and ``metrics.json`` from the parts' records."""
    out = Path(config.io.out_code_dir)
    raw = in_plan_order(records, planned)
    fixed_names = {item.id: item.func_name for item in planned}  # None: the model names it
    samples = [
        CodeSample(r["code"], fixed_names[r["item_id"]], bool(r["complete"]), r["finish_reason"])
        for r in raw
    ]
    verdicts = code_filter(config, benchmark_names).judge_all(samples)
    kept = [_filtered(r, v) for r, v in zip(raw, verdicts, strict=True) if v.kept]
    finished = {r["item_id"] for r in raw}
    metrics = {
        "schema_version": SCHEMA_VERSION,
        "stage": STAGE,
        "complete": len(finished) == len(planned),
        "items": {"planned": len(planned), "finished": len(finished)},
        "samples": len(raw),
        "kept": len(kept),
        "keep_rate": round(len(kept) / len(raw), 4) if raw else None,
        "params": sampling_params(config.codegen),
        "model": config.api.model,
        **_reason_metrics(raw, verdicts),
        "by_name_origin": _by_origin(raw, verdicts),
        "finish_reasons": dict(Counter(str(r["finish_reason"]) for r in raw)),
        "kept_chars_mean": round(sum(len(k["code"]) for k in kept) / len(kept), 1)
        if kept
        else None,
    }
    write_jsonl(out / "raw.jsonl", (strip_part_fields(r) for r in raw), write=write)
    write_jsonl(out / "filtered.jsonl", kept, write=write)
    write_json(out / "metrics.json", metrics, write=write)
    return CodeOutcome(len(raw), kept, len(planned) - len(finished), metrics)


def _filtered(record: dict[str, Any], verdict: CodeVerdict) -> dict[str, Any]:
    """The design's record: desc, func_name, source, code, meta (with the AST hash)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "id": record["id"],
        "desc": record["desc"],
        "func_name": verdict.func_name or record["func_name"],
        "source": record["source"],
        "code": record["code"],
        "meta": {**record["meta"], "ast_hash": verdict.ast_hash},
    }


def _reason_metrics(raw: list[dict[str, Any]], verdicts: list[CodeVerdict]) -> dict[str, Any]:
    reasons = Counter(v.reason for v in verdicts if v.reason)
    examples: dict[str, list[str]] = {}
    for record, verdict in zip(raw, verdicts, strict=True):
        if verdict.reason and len(examples.setdefault(verdict.reason, [])) < _EXAMPLES:
            examples[verdict.reason].append(f"{record['id']}: {verdict.detail}".rstrip(": "))
    return {"reasons": dict(sorted(reasons.items())), "examples": examples}


def _origin(record: dict[str, Any]) -> str:
    if record["source"] == "desc":
        return "desc"
    arms = record["meta"].get("name_sources") or {record["source"]: 1}
    return "both" if len(arms) > 1 else f"{next(iter(arms))} only"


def _by_origin(raw: list[dict[str, Any]], verdicts: list[CodeVerdict]) -> dict[str, Any]:
    samples: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for record, verdict in zip(raw, verdicts, strict=True):
        origin = _origin(record)
        samples[origin] += 1
        passed[origin] += verdict.kept
    return {
        origin: {
            "samples": count,
            "kept": passed[origin],
            "pass_rate": round(passed[origin] / count, 4),
        }
        for origin, count in sorted(samples.items())
    }
