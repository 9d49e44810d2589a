"""Evaluation runs on disk: one folder per run, kept per model version in the data folder.

    {data_dir}/eval/<model_version>/<run_id>/results.jsonl   one line per sample
    {data_dir}/eval/<model_version>/<run_id>/summary.json    scores, counts, identity, settings
    {data_dir}/eval/<model_version>/<run_id>/report.html     self-contained report with plots

``list_runs`` reads the summaries back (for comparisons and the editor's status bar), in the
order they were written: ``created_at`` holds microseconds, so that two runs stored within the
same second (the fine-tuning gate evaluates base and candidate back to back) keep their order.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evaluation.errors import ResultsError
from evaluation.runner import EvalReport

log = logging.getLogger(__name__)

SUMMARY_SCHEMA = 1
RESULTS_FILE, SUMMARY_FILE, REPORT_FILE = "results.jsonl", "summary.json", "report.html"


@dataclass(frozen=True)
class RunRecord:
    """A stored run, as read from its summary.json."""

    run_id: str
    model_version: str
    dataset: str
    created_at: str  # ISO 8601, UTC, to the microsecond (to the second before those existed)
    out_dir: Path
    summary: dict[str, Any]

    @property
    def created(self) -> datetime:
        """``created_at`` as a time (UTC when it names no zone); ``ValueError`` when it is none."""
        when = datetime.fromisoformat(self.created_at)
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)

    @property
    def pass_at_1(self) -> float | None:
        value = self.summary.get("pass@1")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        value = self.summary.get("pass@1_ci95")
        return (float(value[0]), float(value[1])) if isinstance(value, list) else None

    def brief(self) -> dict[str, Any]:
        """What the editor's status bar shows (``evoselfcode/evaluationResult`` params)."""
        return {
            "modelVersion": self.model_version,
            "dataset": self.dataset,
            "tasks": self.summary.get("tasks", 0),
            "passAt1": self.pass_at_1,
            "ci95": list(self.ci95) if self.ci95 else None,
            "counts": self.summary.get("counts", {}),
            "outDir": str(self.out_dir),
        }


def model_version(source: dict[str, Any]) -> str:
    """A folder-safe name for what was evaluated: model name and adapter, or samples file."""
    if source.get("kind") == "model":
        name = str(source.get("name") or "model")
        if source.get("adapter"):
            name += f"@{source['adapter']}"
    else:
        stem = Path(str(source.get("path") or "samples")).name.split(".")[0]
        stem = stem if "sample" in stem.lower() else f"samples-{stem}"
        name = f"{stem}-{str(source.get('sha256') or '')[:8]}".rstrip("-")
    return re.sub(r"[^A-Za-z0-9._@+-]+", "-", name).strip("-.") or "unnamed"


def new_run_id() -> str:
    """Sortable and unique: UTC time to the millisecond plus a random suffix."""
    now = datetime.now(timezone.utc)
    return f"{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}-{secrets.token_hex(2)}"


def run_dir(data_dir: Path, version: str, run_id: str) -> Path:
    return data_dir / "eval" / version / run_id


def save_run(
    report: EvalReport,
    out_dir: Path,
    *,
    version: str,
    run_id: str,
    compare_with: list[RunRecord] | None = None,
) -> RunRecord:
    """Write results.jsonl, summary.json and report.html into ``out_dir`` (created)."""
    from evaluation.report_html import render_report

    summary = {
        "schema": SUMMARY_SCHEMA,
        "run_id": run_id,
        "model_version": version,
        "dataset": report.dataset,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        **report.summary.to_json(),
        "source": report.source,
        "settings": report.settings,
        "isolation": report.isolation,
        "isolation_level": report.isolation_level,
        "isolation_warning": report.isolation_warning,
        "duration_s": report.duration_s,
        "cancelled": report.cancelled,
        "problems": report.problems,
    }
    record = RunRecord(run_id, version, report.dataset, summary["created_at"], out_dir, summary)
    lines = (json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in report.results)
    earlier = [r for r in compare_with or [] if r.out_dir != out_dir]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(out_dir / RESULTS_FILE, "".join(lines))
        _write_atomic(out_dir / SUMMARY_FILE, json.dumps(summary, indent=2, ensure_ascii=False))
        _write_atomic(out_dir / REPORT_FILE, render_report(record, report.results, earlier))
    except OSError as exc:
        raise ResultsError(f"cannot write the evaluation results to {out_dir}: {exc}") from exc
    return record


def list_runs(
    data_dir: Path, *, version: str | None = None, dataset: str | None = None
) -> list[RunRecord]:
    """Stored runs, oldest first (by ``created_at``); unreadable summaries are skipped with a
    warning."""
    dated: list[tuple[datetime, RunRecord]] = []
    for path in sorted((data_dir / "eval").glob(f"{version or '*'}/*/{SUMMARY_FILE}")):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
            record = RunRecord(
                run_id=summary["run_id"],
                model_version=summary["model_version"],
                dataset=summary["dataset"],
                created_at=summary["created_at"],
                out_dir=path.parent,
                summary=summary,
            )
            created = record.created
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("skipping unreadable evaluation summary %s: %s", path, exc)
            continue
        if dataset is None or record.dataset == dataset:
            dated.append((created, record))
    dated.sort(key=lambda pair: (pair[0], pair[1].run_id))
    return [record for _, record in dated]


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
