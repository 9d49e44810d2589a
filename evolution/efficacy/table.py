"""The efficacy loop's outcome as a table, a JSON result and one sentence."""

from __future__ import annotations

import json
from typing import Any

from evaluation.metrics import paired_comparison, wilson_interval
from evolution.efficacy.loop import ARMS, Outcome, Scored

TARGET = 20.0  # pass@1 points (c) should gain over the base model


def interval_text(scored: Scored) -> str:
    n = len(scored.passed)
    low, high = wilson_interval(scored.rate, n)
    hits = sum(scored.passed.values())
    return f"{scored.rate:6.1%} ({hits}/{n})  [{low:.1%}, {high:.1%}]"


def paired(base: Scored, candidate: Scored) -> tuple[float, str]:
    """(two-sided exact McNemar p, a line saying how many tasks moved each way)."""
    comparison = paired_comparison(
        {t: float(p) for t, p in base.passed.items()},
        {t: float(p) for t, p in candidate.passed.items()},
    )
    points = 100 * comparison.mean_difference
    text = (
        f"{candidate.name} vs {base.name}: {points:+.1f} points; {comparison.better} tasks "
        f"only {candidate.name} passes, {comparison.worse} only {base.name}; exact McNemar "
        f"p = {comparison.p_value:.3g}"
    )
    return comparison.p_value, text


def render_table(outcome: Outcome) -> list[str]:
    """The printed table: fault rates, stores, held-out pass@1, paired tests, infill."""
    standin, scores = outcome.standin, outcome.scores
    lines = [
        f"fault rates: {json.dumps(standin.rates.to_dict())}",
        f"stand-in replies ({len(standin.replies)}): {json.dumps(standin.counts())}",
        "",
        f"{'arm':<22} {'records':>7} {'correct':>8}   held-out pass@1 (95% Wilson)",
        f"{'base model':<22} {'-':>7} {'-':>8}   {interval_text(scores['base'])}",
    ]
    for label, _, description in ARMS:
        store = outcome.stores[label]
        share = f"{store.correct / store.records:.0%}" if store.records else "-"
        name = f"({label}) {description}"
        lines.append(f"{name:<22} {store.records:>7} {share:>8}   {interval_text(scores[label])}")
    for label, _, _ in ARMS:
        rejected = outcome.stores[label].summary.get("rejectedBy") or {}
        lines.append(f"  ({label}) rejected by: {json.dumps(rejected)}")
    lines.append("")
    lines += [paired(scores[a], scores[b])[1] for a, b in (("base", "c"), ("a", "c"), ("a", "b"))]
    if outcome.infill:
        before, after = outcome.infill["base"], outcome.infill["c"]
        change = 100 * (after.rate - before.rate)
        lines += [
            "",
            f"HumanEval-infill pass@1 (first {outcome.sizes.infill_tasks} tasks): base "
            f"{interval_text(before)}, after (c) {interval_text(after)}: {change:+.1f} points",
        ]
    return lines


def result_json(outcome: Outcome) -> dict[str, Any]:
    """The bench's last line: ``ratio`` = pass@1 points (c) gained over the base model."""
    scores, stores = outcome.scores, outcome.stores
    infill_change = None
    if outcome.infill:
        infill_change = round(100 * (outcome.infill["c"].rate - outcome.infill["base"].rate), 2)
    return {
        "ratio": round(100 * (scores["c"].rate - scores["base"].rate), 2),
        "target": TARGET,
        "p_vs_base": paired(scores["base"], scores["c"])[0],
        "p_vs_ungated": paired(scores["a"], scores["c"])[0],
        "p_syntax_vs_ungated": paired(scores["a"], scores["b"])[0],
        "infill_change_points": infill_change,
        "pass_at_1": {name: round(s.rate, 4) for name, s in scores.items()},
        "heldout_tasks": len(scores["base"].passed),
        "train_instructions": len(outcome.standin.replies),
        "records": {label: stores[label].records for label, _, _ in ARMS},
        "correct_records": {label: stores[label].correct for label, _, _ in ARMS},
        "epochs": outcome.sizes.epochs,
        "fault_rates": outcome.standin.rates.to_dict(),
    }


def summary_sentence(outcome: Outcome) -> str:
    """What the run showed, in words a user reads in the demo."""
    scores = outcome.scores
    n = len(scores["base"].passed)

    def hits(name: str) -> str:
        return f"{sum(scores[name].passed.values())}/{n}"

    p_base, _ = paired(scores["base"], scores["c"])
    p_ungated, _ = paired(scores["a"], scores["c"])
    return (
        f"held-out tasks passed: base model {hits('base')}, after fine-tuning on all-gates pairs "
        f"{hits('c')} (p = {p_base:.2g} vs base), on ungated pairs {hits('a')} (p = "
        f"{p_ungated:.2g} vs all gates), syntax gate only {hits('b')}"
    )
