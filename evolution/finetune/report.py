"""The adapter's report, kept beside it: ``report.json``, ``report.txt`` and ``report.html``.

The JSON is for programs (the server's ``evoselfcode/finetuneResult`` points at it); the text
is what ``evoselfcode adapters show`` prints; the HTML is the same text for a browser.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

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
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body>\n<h1>{title}</h1>\n"
        f"<pre>{html.escape(text)}</pre>\n<details><summary>Full report (JSON)</summary>"
        f"<pre>{html.escape(json.dumps(report, indent=1, ensure_ascii=False))}</pre>"
        "</details>\n</body></html>\n"
    )


def _write(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)
