"""The adapter's report, kept beside it: ``report.json``, ``report.txt`` and ``report.html``.

The JSON is for programs (the server's ``evoselfcode/finetuneResult`` points at it); the text
is what ``evoselfcode adapters show`` prints; the HTML is the same text for a browser, with the
training loss curve and the gate's pass rates (baseline and candidate, 95% Wilson intervals)
drawn as charts.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from evaluation.svg import Point, interval_chart, line_chart

REPORT_JSON = "report.json"


def write_reports(folder: Path, report: dict[str, Any]) -> Path:
    """Write the three files (each atomically) and return the JSON one."""
    text = render_text(report)
    _write(folder / REPORT_JSON, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    _write(folder / "report.txt", text)
    _write(folder / "report.html", render_html(report, text))
    return folder / REPORT_JSON


def render_text(report: dict[str, Any]) -> str:
    """A short human-readable summary: the verdict first, then the numbers behind it."""
    gate = report.get("gate")
    verdict = "NOT JUDGED (auto_promote off)"
    if gate:
        verdict = "PROMOTED" if gate["promote"] else "NOT PROMOTED"
    lines = [f"Adapter {report['adapter_id']} on {report['base_model']}: {verdict}"]
    if report.get("random_weights"):
        lines.append(
            "(trained on a RANDOM-WEIGHT test model: the numbers exercise code paths only)"
        )
    if gate:
        lines.append(f"Why: {gate['reason']}")
        for criterion in gate["criteria"]:
            mark = "pass" if criterion["passed"] else "FAIL"
            lines.append(f"  [{mark}] {criterion['name']}: {criterion['reason']}")
        for side in _pass_rates(report):
            lines.append(
                f"  {side.label} pass@1 {side.value:.1%} (95% interval {side.low:.1%} to "
                f"{side.high:.1%})"
            )
    training = report.get("training", {})
    if training:
        first, last = training.get("loss_first"), training.get("loss_last")
        curve = f", loss {first:.3f} → {last:.3f}" if first is not None else ""
        lines.append(
            f"Training: {training.get('steps')} steps{curve}, {training.get('tokens')} tokens "
            f"at {training.get('tokens_per_s', 0):.0f} tokens/s"
        )
    data = report.get("data", {})
    if data:
        skipped = sum((data.get("skipped_too_long") or {}).values())
        max_length = report.get("config", {}).get("max_length")
        lines.append(
            f"Data: {data.get('records')} records ({data.get('heldout_records')} held out), "
            f"examples {data.get('train_examples')}; {skipped} skipped as longer than "
            f"max_length={max_length}"
        )
    lines.append(f"Data hash: {report.get('data_hash')}; parent: {report.get('parent') or 'base'}")
    return "\n".join(lines) + "\n"


def render_html(report: dict[str, Any], text: str) -> str:
    title = html.escape(f"EvoSelfCode adapter {report['adapter_id']}")
    charts = []
    training = report.get("training") or {}
    if training.get("losses"):
        every = training.get("loss_every", 1)
        charts.append(
            line_chart(training["losses"], x_step=every, x_label="step", title="Training loss")
        )
    sides = _pass_rates(report)
    if sides:
        dataset = _pass_rate_criterion(report)["details"]["dataset"]  # the chart escapes it
        charts.append(interval_chart(sides, title=f"{dataset} pass@1, 95% intervals"))
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body>\n<h1>{title}</h1>\n"
        f"<pre>{html.escape(text)}</pre>\n"
        + "".join(f"<figure>{chart}</figure>\n" for chart in charts)
        + "<details><summary>Full report (JSON)</summary>"
        f"<pre>{html.escape(json.dumps(report, indent=1, ensure_ascii=False))}</pre>"
        "</details>\n</body></html>\n"
    )


def _pass_rate_criterion(report: dict[str, Any]) -> dict[str, Any]:
    criteria = (report.get("gate") or {}).get("criteria", [])
    return next((c for c in criteria if c["name"] == "pass_rate"), {})


def _pass_rates(report: dict[str, Any]) -> list[Point]:
    """Baseline then candidate pass@1 with their intervals; empty when the gate had none."""
    criterion = _pass_rate_criterion(report)
    comparison, details = criterion.get("comparison"), criterion.get("details") or {}
    if not comparison or "candidate_interval" not in details:
        return []
    baseline = report["gate"]["baseline"]
    return [
        Point(baseline, comparison["baseline_mean"], *details["baseline_interval"]),
        Point(
            report["adapter_id"],
            comparison["candidate_mean"],
            *details["candidate_interval"],
            highlight=True,
        ),
    ]


def _write(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)
