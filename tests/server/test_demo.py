"""``evoselfcode demo`` runs the whole loop and leaves its evidence behind.

A real child process, as ``make demo`` runs it: the small model the repository ships
(models/evoselfcode-small), the scripted test server, the language server over stdio and
the CLIs. Asserts on what the loop produced: the accepted pair in the store, the datagen
import, a registered adapter with its gate report, an evaluation stored under the served
model's version, and the HTML report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

# The whole loop, then the short self-evolution measurement: minutes, not seconds.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_the_demo_runs_the_whole_loop(tmp_path: Path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "server", "demo", "--out", str(out), "--tasks", "2"),
            *("--efficacy-tasks", "24"),  # the short measurement at its shortest: 8 held out
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "trained from scratch" in proc.stdout and "stands in for" in proc.stdout
    assert "8/8 steps ok" in proc.stdout
    # The self-evolution measurement says what it showed, from its own evaluations.
    shown = re.search(
        r"held-out tasks passed: base model (\d+)/8, .* all-gates pairs (\d+)/8", proc.stdout
    )
    assert shown, proc.stdout[-3000:]
    base_eval = out / "efficacy" / "eval" / "base-composed-heldout" / "results.jsonl"
    passed = sum(json.loads(line)["passed"] for line in base_eval.read_text().splitlines())
    assert int(shown.group(1)) == passed
    # Greedy ghost text from the trained model, checked in place by Python's own parser.
    assert re.search(r"ghost text '.+' in \d+ ms; the file (parses|does NOT parse)", proc.stdout)

    records = [
        json.loads(line)
        for line in (out / "data" / "training" / "pairs.jsonl").read_text().splitlines()
    ]
    editor = [r for r in records if r["source"] == "editor"]
    assert [r["context"]["function_name"] for r in editor] == ["mean"]
    assert "if not values" in editor[0]["code"]
    assert {r["source"] for r in records} == {"editor", "batch", "datagen"}
    flagged = {r["context"]["function_name"] for r in records if r["decontamination"]["flagged"]}
    assert "has_close_elements" in flagged  # a HumanEval task: kept, not trained on
    assert 'def mean(values):\n    """' in (out / "workspace" / "stats.py").read_text()

    adapters = out / "data" / "adapters"
    registry = json.loads((adapters / "registry.json").read_text())
    [adapter_id] = registry["adapters"]
    report = json.loads((adapters / adapter_id / "report.json").read_text())
    promoted = report["gate"]["promote"]
    assert (registry["promoted"] == adapter_id) == promoted
    assert ("PROMOTED" if promoted else "NOT PROMOTED") in proc.stdout

    # The gate evaluated base and candidate; the evaluate command the model that serves.
    served = f"evoselfcode-small@{adapter_id}" if promoted else "evoselfcode-small"
    assert list((out / "data" / "eval" / served).glob("*/summary.json"))
    assert "EvoSelfCode: the whole loop" in (out / "report.html").read_text()


def test_a_negative_efficacy_task_count_is_refused_before_anything_runs(tmp_path: Path):
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "server", "demo", "--out", str(tmp_path / "d")),
            *("--efficacy-tasks", "-3"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "must be 0 or more, got -3" in proc.stderr
    assert not (tmp_path / "d").exists()
