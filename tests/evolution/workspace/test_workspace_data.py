"""The whole preparation on a real folder: split, duplicates, decontamination, targets, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_workspace_accepted import log_records, outcome
from workspace_helpers import KEPT, MAX_FILE_BYTES, make_workspace, module_source, write

from evolution.store.decontam import BenchmarkText, Decontaminator
from evolution.workspace import (
    WorkspaceOptions,
    build_workspace_data,
    read_outcome_log,
    split_by_path,
    split_point,
    workspace_decontaminator,
)
from server.cli import main

BENCHMARK = BenchmarkText(
    "humaneval",
    "HumanEval/0",
    "def has_close_elements(numbers, threshold):\n"
    '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
    '    given threshold."""\n'
    "    for idx, elem in enumerate(numbers):\n"
    "        for idx2, elem2 in enumerate(numbers):\n"
    "            if idx != idx2:\n"
    "                distance = abs(elem - elem2)\n",
    "has_close_elements",
)
OPTIONS = WorkspaceOptions(max_file_bytes=MAX_FILE_BYTES)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "myproject")


def no_benchmarks() -> Decontaminator:
    return Decontaminator([BENCHMARK])


def test_files_are_split_by_path_and_every_scanned_file_is_on_one_side(workspace: Path):
    data = build_workspace_data(workspace, options=OPTIONS, decontaminator=no_benchmarks())
    train, heldout = split_by_path(KEPT)
    assert [f.path for f in data.train_files] == train
    assert [f.path for f in data.heldout_files] == heldout and heldout
    assert data.repo_name == "myproject" and data.benchmarks == ["humaneval"]


def test_copies_are_dropped_and_a_held_out_file_is_never_the_one_dropped(workspace: Path):
    core = (workspace / "app/core.py").read_text(encoding="utf-8")
    # The same code with CRLF line ends and trailing blanks: the same normalised text. One
    # copy's path is held out (its hash is below the share), the others' are not.
    names = (f"copies/copy_{i}.py" for i in range(1000))
    paths = [next(p for p in names if split_point(p) < 0.1)]
    paths += [p for p in names if split_point(p) > 0.1][:3]
    for path in paths:
        write(workspace, path, core.replace("\n", "  \r\n"))
    near = core.replace("core_step_0(values, scale=2)", "core_step_0(values, scale=3)")
    write(workspace, "zz/near.py", near)
    data = build_workspace_data(workspace, options=OPTIONS, decontaminator=no_benchmarks())
    kept = {f.path for f in data.train_files + data.heldout_files}
    group = ["app/core.py", *paths]
    assert len(kept & set(group)) == 1
    assert kept & set(group) <= set(split_by_path([*KEPT, *paths, "zz/near.py"])[1])
    skips = {s.path: (s.reason, s.detail) for s in data.skips}
    dropped = sorted(set(group) - kept)
    assert all(skips[p][0] == "duplicate" for p in dropped)
    assert skips["zz/near.py"][0] == "near-duplicate"


def test_a_protected_text_is_never_trained_on(workspace: Path):
    utils = (workspace / "app/utils.py").read_text(encoding="utf-8")
    data = build_workspace_data(
        workspace,
        options=OPTIONS,
        decontaminator=no_benchmarks(),
        protected=[("stdlib:utils.py", utils)],
    )
    assert "app/utils.py" not in [f.path for f in data.train_files + data.heldout_files]
    skip = next(s for s in data.skips if s.path == "app/utils.py")
    assert (skip.reason, skip.detail) == ("duplicate", "of protected:stdlib:utils.py")


def test_benchmark_copies_are_left_out_but_a_users_function_named_like_a_task_is_not(
    workspace: Path,
):
    write(workspace, "app/solution.py", module_source("solution") + BENCHMARK.text)
    own = "def has_close_elements(points, gap):\n"
    own += "    return any(b - a < gap for a, b in zip(points, points[1:]))\n"
    write(workspace, "app/mine.py", module_source("mine") + own)
    data = build_workspace_data(
        workspace, options=OPTIONS, decontaminator=workspace_decontaminator()
    )
    skip = next(s for s in data.skips if s.path == "app/solution.py")
    assert skip.reason == "contaminated" and "HumanEval/0" in skip.detail
    assert "app/mine.py" in [f.path for f in data.train_files + data.heldout_files]
    assert "humaneval" in data.benchmarks


def test_accepted_completions_are_targets_on_the_side_of_their_file(workspace: Path, tmp_path):
    data = build_workspace_data(workspace, options=OPTIONS, decontaminator=no_benchmarks())
    train_path, heldout_path = data.train_files[0].path, data.heldout_files[0].path
    records = [
        outcome(
            workspace / path, 3, f"def {Path(path).stem.replace('__init__', 'build_init')}_step_0("
        )
        for path in (train_path, heldout_path)
    ]
    records.append(outcome(workspace / "scratch/tmp.py", 3, "x = 1\n"))  # gitignored
    log_records(tmp_path / "data", records)
    data = build_workspace_data(
        workspace,
        outcome_records=read_outcome_log(tmp_path / "data"),
        options=OPTIONS,
        decontaminator=no_benchmarks(),
    )
    assert [t.path for t in data.train_targets] == [train_path]
    assert [t.path for t in data.heldout_targets] == [heldout_path]
    assert data.records_not_used == {"file-not-used": 1}
    examples = data.examples()
    accepted = [e for e in examples if e.source == "accepted"]
    assert [(e.path, e.middle) for e in accepted] == [(train_path, data.train_targets[0].middle)]
    assert {e.path for e in examples} == {f.path for f in data.train_files}  # none held out


def test_the_cli_prints_what_would_be_trained_on(workspace: Path, tmp_path: Path, capsys):
    core = workspace / "app/core.py"
    log_records(
        tmp_path / "data",
        [outcome(core, 3, "def core_step_0("), outcome(core, 3, "x", outcome="dismissed")],
    )
    args = ["workspace-data", str(workspace), "--data-dir", str(tmp_path / "data")]
    args += ["--max-file-kib", str(MAX_FILE_BYTES // 1024)]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert sorted(summary["train_files"] + summary["heldout_files"]) == sorted(KEPT)
    assert summary["skip_counts"]["secret-file"] == 5
    assert {s["path"] for s in summary["skips"]} >= {".env", ".venv/", "scratch/", "minified.py"}
    targets = summary["accepted_targets"]
    assert len(targets["train"]) + len(targets["heldout"]) == 1
    assert summary["records_not_used"] == {"dismissed": 1}
    assert summary["examples"].get("accepted:repo-fim", 0) == len(targets["train"])
    assert summary["examples"]["file:repo-fim"] >= len(summary["train_files"])

    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"workspace myproject ({workspace})")
    assert "secret-file: 5 files" in text and "gitignored: 5 files, 1 folders" in text
    assert "not used: 1 dismissed" in text and "\n    app/core.py\n" in text


def test_the_cli_refuses_a_missing_folder_and_a_bad_share(tmp_path: Path, capsys):
    assert main(["workspace-data", str(tmp_path / "nope"), "--data-dir", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["workspace-data", str(tmp_path), "--heldout-share", "1.5"])
