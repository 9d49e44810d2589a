"""Optional scoring of the filtered functions by the server's model: ``code/scored.jsonl``.

Each kept function is echoed through ``/v1/completions`` with logprobs (``ScoringClient``)
and gets ``score``::

    {"perplexity": ..., "mean_logprob": ..., "tokens": ...,          # given the global prefix
     "conditional_perplexity": ..., "ifd": ...}                         # descriptions only

``ifd`` (instruction-following difficulty) is the mean token loss of the code *given its
description* divided by its loss without it: near 1, the description hardly helps predict the
code. The scores are recorded, never used to drop anything: a raw low perplexity favours
trivial or memorized code, and pruning by it removes whole code domains; use them to study or
order the data (e.g. an IFD-style curriculum), not as a quality threshold.

Scoring is resumable like generation (``parts/scores.*.jsonl``).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.clients import OpenAIClient, ScoringClient
from evolution.datagen.config import DatagenConfig
from evolution.datagen.prompts import code_prompt
from evolution.datagen.runner import Fetch
from evolution.datagen.schemas import SCHEMA_VERSION
from evolution.datagen.writer import WriteFn, write_json, write_jsonl

PHASE = "scores"


@dataclass(frozen=True)
class ScoreItem:
    id: str  # the filtered record's id
    code: str
    prefix: str  # the global prefix
    desc_prefix: str | None  # the description's prompt, up to the code


def plan(config: DatagenConfig, kept: list[dict[str, Any]]) -> list[ScoreItem]:
    prefix = config.prompts.global_prefix
    items = []
    for record in kept:
        desc_prefix = None
        if record.get("desc"):
            desc_prefix = code_prompt(config.prompts, None, record["desc"]).removesuffix("def ")
        items.append(ScoreItem(record["id"], record["code"], prefix, desc_prefix))
    return items


def settings(config: DatagenConfig) -> dict[str, Any]:
    return {
        "model": config.filters.scoring.model or config.api.model,
        "global_prefix": config.prompts.global_prefix,
    }


def fetcher(client: OpenAIClient, config: DatagenConfig) -> Fetch:
    scorer = ScoringClient(client, model=config.filters.scoring.model or None)

    async def fetch(item: ScoreItem) -> list[dict[str, Any]]:
        plain = await scorer.score(item.code, prefix=item.prefix)
        score: dict[str, Any] = {"perplexity": None, "mean_logprob": None, "tokens": 0}
        if plain.logprobs:  # none for a text of a single token
            score.update(
                perplexity=round(plain.perplexity, 4),
                mean_logprob=round(plain.mean_logprob, 5),
                tokens=len(plain.tokens),
            )
        if item.desc_prefix is not None and plain.logprobs:
            given = await scorer.score(item.code, prefix=item.desc_prefix)
            if given.logprobs:
                score["conditional_perplexity"] = round(given.perplexity, 4)
                if plain.mean_logprob < 0:
                    score["ifd"] = round(given.mean_logprob / plain.mean_logprob, 4)
        return [{"id": item.id, "item_id": item.id, "group_size": 1, "score": score}]

    return fetch


def finalize(
    config: DatagenConfig,
    kept: list[dict[str, Any]],
    score_records: list[dict[str, Any]],
    metrics: dict[str, Any],
    *,
    write: WriteFn = os.write,
) -> dict[str, Any]:
    """Write ``scored.jsonl`` (kept records that have a score, in order) and add a
    ``scoring`` section to ``metrics.json``; returns that section."""
    out = Path(config.io.out_code_dir)
    scores = {record["id"]: record["score"] for record in score_records}
    scored = [
        {**record, "score": scores[record["id"]]} for record in kept if record["id"] in scores
    ]
    perplexities = sorted(
        r["score"]["perplexity"] for r in scored if r["score"]["perplexity"] is not None
    )
    section: dict[str, Any] = {
        "scored": len(scored),
        "missing": len(kept) - len(scored),
        "model": settings(config)["model"],
        "perplexity": _quantiles(perplexities),
        "note": "recorded only; low perplexity favours trivial or memorized code, so nothing "
        "is dropped by it",
    }
    write_jsonl(
        out / "scored.jsonl", ({**r, "schema_version": SCHEMA_VERSION} for r in scored), write=write
    )
    write_json(out / "metrics.json", {**metrics, "scoring": section}, write=write)
    return section


def _quantiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    if len(values) == 1:
        return {"min": values[0], "median": values[0], "max": values[0]}
    q1, median, q3 = statistics.quantiles(values, n=4)
    return {
        "min": values[0],
        "p25": round(q1, 4),
        "median": round(median, 4),
        "p75": round(q3, 4),
        "max": values[-1],
    }
