"""The demo's HTML summary: one self-contained page with each step and what it produced."""

from __future__ import annotations

import html
import json
from pathlib import Path

from server.demo.steps import StepResult


def write_report(path: Path, results: list[StepResult], note: str) -> Path:
    rows = "\n".join(_row(result) for result in results)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>EvoSelfCode demo</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .5rem; vertical-align: top; text-align: left; }}
.ok {{ color: #196c2e; font-weight: 600; }} .failed {{ color: #b3261e; font-weight: 600; }}
.note {{ background: #fff4ce; padding: .75rem 1rem; border-radius: 6px; }}
pre {{ white-space: pre-wrap; background: #f6f8fa; padding: .5rem; margin: .25rem 0 0; }}
</style></head><body>
<h1>EvoSelfCode: the whole loop</h1>
<p class="note">{html.escape(note)}</p>
<table><tr><th>step</th><th>result</th><th>seconds</th><th>what it did</th></tr>
{rows}
</table></body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def _row(result: StepResult) -> str:
    mark = '<span class="ok">ok</span>' if result.ok else '<span class="failed">failed</span>'
    details = {k: v for k, v in result.details.items() if k != "reportText"}
    extra = ""
    if result.details.get("reportText"):
        extra += f"<pre>{html.escape(result.details['reportText'])}</pre>"
    for key in ("reportPath", "outDir"):
        if isinstance(result.details.get(key), str):
            target = Path(result.details[key])
            page = target.with_name("report.html") if target.suffix else target / "report.html"
            if page.is_file():
                extra += f'<p><a href="{page.as_uri()}">{html.escape(page.name)}</a></p>'
    if details:
        blob = json.dumps(details, indent=1, ensure_ascii=False, default=str)[:4000]
        extra += f"<details><summary>details</summary><pre>{html.escape(blob)}</pre></details>"
    return (
        f"<tr><td>{html.escape(result.name)}</td><td>{mark}</td>"
        f"<td>{result.seconds:.1f}</td><td>{html.escape(result.summary)}{extra}</td></tr>"
    )
