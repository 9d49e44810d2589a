"""``bench/efficacy_repo.py`` end to end on the smoke model (RANDOM WEIGHTS: mechanics only):
the real ``finetune --workspace`` command, holes from the held-out files only, the JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_finetune_workspace import NAMES, make_workspace

from evolution.workspace import split_by_path

REPO = Path(__file__).resolve().parents[3]


def test_the_bench_fine_tunes_on_training_files_and_scores_held_out_holes(
    smoke_model_dir, tmp_path
):
    workspace = make_workspace(tmp_path / "proj", NAMES)
    work = tmp_path / "work"
    argv = [sys.executable, str(REPO / "bench" / "efficacy_repo.py"), "--repo", str(workspace)]
    argv += ["--model", str(smoke_model_dir), "--holes", "12", "--general-holes", "5"]
    argv += ["--epochs", "0.5", "--fim-variants", "1", "--work", str(work)]
    argv += ["--gate", "--gate-infill-tasks", "2"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["target"] == 5.0 and result["holes"] == 12
    assert {"ratio", "p_value", "exact_match_gain_points", "general_change_points"} <= set(result)
    assert 0.0 <= result["p_value"] <= 1.0
    _, heldout = split_by_path(f"pkg/{n}.py" for n in NAMES)
    assert result["heldout_files"] == heldout
    # The smoke model lists no held-out files: no general code, and the bench says so.
    assert result["general_holes"] == 0 and result["general_p_value"] is None
    assert any(line.startswith("held-out files, edit similarity") for line in lines)
    # The adapter was trained through the command into the workspace's own registry.
    assert list((work / "data" / "adapters" / "completion").iterdir())
    assert (work / "logs" / "finetune.log").is_file()
    # --gate: the editor's promotion gate judged it, and the bench says what it decided.
    gate = result["gate"]
    assert isinstance(gate["promoted"], bool) and isinstance(gate["failed"], list)
    verdict = next(line for line in lines if line.startswith("gate: "))
    assert verdict.startswith("gate: PROMOTED" if gate["promoted"] else "gate: NOT PROMOTED")
    judged = [line.split(":")[0].split()[-1] for line in lines if line.startswith("  ")]
    assert {"workspace_completions", "general_code", "humaneval_infill"} <= set(judged)
