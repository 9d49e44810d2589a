"""report.html: one self-contained page (inline CSS and SVG, no scripts, nothing fetched)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from evaluation.sandbox.protocol import Outcome
from evaluation.svg import Bar, Point, bar_chart, interval_chart

if TYPE_CHECKING:
    from evaluation.runner import SampleResult
    from evaluation.runs import RunRecord

OUTCOME_COLORS = {
    Outcome.PASSED: "#54a24b",
    Outcome.FAILED: "#f58518",
    Outcome.ERROR: "#e45756",
    Outcome.SYNTAX_ERROR: "#b279a2",
    Outcome.TIMEOUT: "#eeca3b",
    Outcome.OOM: "#9d755d",
    Outcome.CRASHED: "#72b7b2",
}
MAX_ROWS = 300
MAX_CELL_CHARS = 600
EARLIER_RUNS_SHOWN = 12
MAX_PROBLEMS_SHOWN = 20

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.score { font-size: 2rem; font-weight: bold; }
.warn { background: #fff3cd; border: 1px solid #e0c36a; padding: .5rem 1rem; }
.danger { background: #f8d7da; border: 2px solid #c0392b; padding: .5rem 1rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
td, th { border-bottom: 1px solid #ddd; padding: .25rem .5rem; text-align: left;
         vertical-align: top; }
code, pre { font-family: ui-monospace, monospace; font-size: .8rem; white-space: pre-wrap; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { font-weight: bold; }
"""


def render_report(
    run: RunRecord, results: Sequence[SampleResult], earlier: Sequence[RunRecord]
) -> str:
    """The page for ``run``, compared with ``earlier`` runs of the same dataset."""
    summary = run.summary
    sections = [
        f"<h1>Evaluation of {escape(run.model_version)} on {escape(run.dataset)}</h1>",
        *_warnings(summary),
        _headline(summary),
        "<h2>Pass rate</h2>",
        _pass_rates(summary),
        "<h2>Outcomes</h2>",
        _outcomes(summary),
        "<h2>Compared with earlier runs</h2>",
        _comparison(run, [r for r in earlier if r.dataset == run.dataset]),
        "<h2>Run</h2>",
        _details(run),
        "<h2>Samples that did not pass</h2>",
        _failures(results),
    ]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(run.model_version)} · {escape(run.dataset)}</title>"
        f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def _warnings(summary: dict) -> list[str]:
    notes = []
    if summary.get("source", {}).get("random_weights"):
        notes.append("This model has random weights (the smoke model): its scores mean nothing.")
    if summary.get("cancelled"):
        notes.append("The run was cancelled: only the samples that finished are counted.")
    boxes = [f'<p class="warn">{escape(n)}</p>' for n in notes]
    if summary.get("isolation_warning"):  # first: what ran here could reach the host
        boxes.insert(0, f'<p class="danger"><b>{escape(summary["isolation_warning"])}</b></p>')
    problems = summary.get("problems", [])
    if problems:
        items = "".join(f"<li>{escape(p)}</li>" for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        tail = f"<li>… and {more} more (summary.json)</li>" if more > 0 else ""
        boxes.append(f'<div class="warn">Problems with the input:<ul>{items}{tail}</ul></div>')
    return boxes


def _headline(summary: dict) -> str:
    value, ci = summary.get("pass@1"), summary.get("pass@1_ci95")
    if value is None:
        return "<p>No sample finished.</p>"
    interval = f" (95% CI {ci[0]:.1%} – {ci[1]:.1%})" if ci else ""
    exact = summary.get("exact_match")
    extra = f" · exact match {exact:.1%}" if exact is not None else ""
    return (
        f'<p><span class="score">pass@1 {value:.1%}</span>{escape(interval)}{escape(extra)}<br>'
        f"{summary['passed']} of {summary['samples']} samples passed, "
        f"{summary['tasks']} tasks</p>"
    )


def _pass_rates(summary: dict) -> str:
    bars = []
    for key, value in summary.items():
        if key.startswith("pass@") and not key.endswith("_ci95"):
            low, high = summary.get(f"{key}_ci95", (value, value))
            bars.append(Bar(key, float(value), text=f"{value:.1%}  (95% CI {low:.1%}–{high:.1%})"))
    return bar_chart(bars, max_value=1.0) if bars else "<p>No scores.</p>"


def _outcomes(summary: dict) -> str:
    counts = summary.get("counts", {})
    total = sum(counts.values()) or 1
    bars = [
        Bar(
            o.value,
            counts.get(o.value, 0),
            OUTCOME_COLORS[o],
            f"{counts.get(o.value, 0)} ({counts.get(o.value, 0) / total:.0%})",
        )
        for o in Outcome
    ]
    return bar_chart(bars, max_value=max(counts.values(), default=1) or 1)


def _comparison(run: RunRecord, earlier: Sequence[RunRecord]) -> str:
    history = [
        (r, r.pass_at_1, r.ci95)
        for r in [*earlier[-EARLIER_RUNS_SHOWN:], run]
        if r.pass_at_1 is not None and r.ci95 is not None
    ]
    if len(history) < 2:
        return "<p>No earlier run of this dataset in the data folder.</p>"
    points = []
    legend = []
    for number, (r, value, (low, high)) in enumerate(history, 1):  # type: ignore[misc]
        points.append(Point(f"#{number}", value, low, high, r is run))
        when = r.created_at.replace("T", " ")[:16]
        mark = " (this run)" if r is run else ""
        legend.append(f"<li>{escape(r.model_version)} · {escape(when)} · {value:.1%}{mark}</li>")
    return (
        interval_chart(points)
        + f"<p>pass@1 with 95% intervals; this run in red.</p><ol>{''.join(legend)}</ol>"
    )


def _details(run: RunRecord) -> str:
    summary = run.summary
    rows = {
        "run": run.run_id,
        "created": run.created_at,
        "source": summary.get("source"),
        "settings": summary.get("settings"),
        "sandbox": summary.get("isolation"),
        "duration": f"{summary.get('duration_s', 0):.1f} s",
        "folder": str(run.out_dir),
    }
    items = "".join(
        f"<dt>{escape(k)}</dt><dd><code>{escape(v if isinstance(v, str) else json.dumps(v))}"
        "</code></dd>"
        for k, v in rows.items()
    )
    return f"<dl>{items}</dl>"


def _failures(results: Sequence[SampleResult]) -> str:
    failing = [r for r in results if not r.passed]
    if not failing:
        return "<p>Every sample passed.</p>"
    rows = "".join(
        f"<tr><td>{escape(r.task_id)}#{r.sample_index}</td><td>{escape(r.outcome.value)}</td>"
        f"<td><code>{escape(_clip(r.detail))}</code></td>"
        f"<td><details><summary>completion</summary><pre>{escape(_clip(r.completion))}</pre>"
        "</details></td></tr>"
        for r in failing[:MAX_ROWS]
    )
    more = (
        f"<p>… and {len(failing) - MAX_ROWS} more in results.jsonl.</p>"
        if len(failing) > MAX_ROWS
        else ""
    )
    return (
        "<table><tr><th>sample</th><th>result</th><th>detail</th><th></th></tr>"
        f"{rows}</table>{more}"
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + " …"
