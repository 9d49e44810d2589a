"""Stage A's A/B statistics: how the FIM arm and the left-to-right arm compare.

Per arm (all rates are shares of that arm's completions unless said otherwise):

- ``compliance_rate``: valid identifiers in the wanted style (``filters.name_regex``, no
  keywords), with a 95% Wilson interval: completions of one request are correlated, so read
  the interval as optimistic;
- ``distinct_ratio``: distinct compliant names ÷ compliant completions (diversity);
- ``weak_rate``: weak names among the compliant ones; ``benchmark_collisions``: compliant
  completions naming a benchmark task's entry point (and which names);
- ``names_per_request``: distinct names this arm got through every filter ÷ its requests;
- ``empty``: completions with nothing in them; ``reasons``: why completions were dropped,
  with a few examples each; ``unique_names``: kept names the other arm never proposed.

This scores the arms on validity and diversity, not on likelihood; stage B's metrics add how
often each arm's names lead to a function that passes the code filters.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evolution.datagen.filters.names import NameFilter, NameVerdict

_EXAMPLES = 5


@dataclass(frozen=True)
class JudgedName:
    """One completion of stage A and its verdict."""

    arm: str
    item_id: str
    record_id: str
    text: str
    verdict: NameVerdict


def wilson(successes: int, trials: int, z: float = 1.96) -> list[float] | None:
    """The Wilson score interval of a proportion (None without trials)."""
    if trials == 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def arm_metrics(
    judged: Sequence[JudgedName], requests: int, names: NameFilter, others_kept: set[str]
) -> dict[str, Any]:
    """The statistics of one arm's completions."""
    total = len(judged)
    compliant = [j.verdict.name for j in judged if j.verdict.compliant]
    weak = [n for n in compliant if names.is_weak(n)]
    collisions = [n for n in compliant if names.is_benchmark(n)]
    kept = {j.verdict.name for j in judged if j.verdict.kept}
    reasons = Counter(j.verdict.reason for j in judged if j.verdict.reason)
    examples: dict[str, list[str]] = {}
    for j in judged:
        reason = j.verdict.reason
        shown = examples.setdefault(reason, []) if reason else None
        if shown is not None and j.text not in shown and len(shown) < _EXAMPLES:
            shown.append(j.text)
    return {
        "requests": requests,
        "completions": total,
        "empty": reasons.get("empty", 0),
        "empty_rate": _rate(reasons.get("empty", 0), total),
        "compliant": len(compliant),
        "compliance_rate": _rate(len(compliant), total),
        "compliance_ci95": wilson(len(compliant), total),
        "distinct_compliant": len(set(compliant)),
        "distinct_ratio": _rate(len(set(compliant)), len(compliant)),
        "weak": len(weak),
        "weak_rate": _rate(len(weak), len(compliant)),
        "benchmark_collisions": len(collisions),
        "benchmark_names": sorted(set(collisions)),
        "non_ascii": sum(j.verdict.non_ascii for j in judged),
        "kept_distinct": len(kept),
        "names_per_request": _rate(len(kept), requests),
        "unique_names": len(kept - others_kept),
        "reasons": dict(sorted(reasons.items())),
        "examples": examples,
        "top_names": Counter(compliant).most_common(10),
    }


def ab_metrics(
    judged: Sequence[JudgedName], arms: Sequence[str], requests: dict[str, int], names: NameFilter
) -> dict[str, Any]:
    """Per-arm statistics and how the arms' kept names overlap."""
    kept = {
        arm: {j.verdict.name for j in judged if j.arm == arm and j.verdict.kept} for arm in arms
    }
    per_arm = {}
    for arm in arms:
        others = set().union(*(kept[other] for other in arms if other != arm))
        mine = [j for j in judged if j.arm == arm]
        per_arm[arm] = arm_metrics(mine, requests.get(arm, 0), names, others)
    union = set().union(*kept.values()) if kept else set()
    shared = set.intersection(*kept.values()) if len(kept) > 1 else set()
    return {"arms": per_arm, "overlap": {"kept_union": len(union), "kept_by_all_arms": len(shared)}}
