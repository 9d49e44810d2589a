"""Samples files: every bad line is named, every good line is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation import samples as samples_module
from evaluation.errors import SamplesError
from evaluation.samples import read_samples

KNOWN = {"HumanEval/0", "HumanEval/1"}


def _line(**row: object) -> bytes:
    return (json.dumps(row) + "\n").encode()


def test_bad_lines_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_bytes(
        _line(task_id="HumanEval/0", completion="    return True\n")  # 1 good
        + _line(task_id="HumanEval/999", completion="x")  # 2 unknown task
        + _line(task_id="HumanEval/1")  # 3 missing completion
        + _line(completion="x")  # 4 missing task_id
        + _line(task_id="HumanEval/1", completion=["not", "text"])  # 5 wrong type
        + b"\xff\xfe\x00binary junk\n"  # 6
        + b"{not json\n"  # 7
        + b"[1, 2]\n"  # 8
        + b"\n"  # 9 blank: ignored
        + _line(task_id="HumanEval/0", completion="    return True\n")  # 10 exact repeat: kept
        + _line(task_id="HumanEval/1", completion="a", completion_id=3)  # 11 good
        + _line(task_id="HumanEval/1", completion="b", completion_id=3)  # 12 repeated id
    )
    result = read_samples(path, KNOWN)
    assert [(s.task_id, s.line) for s in result.samples] == [
        ("HumanEval/0", 1),
        ("HumanEval/0", 10),
        ("HumanEval/1", 11),
    ]
    problems = {p.line: p for p in result.problems}
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8, 10, 12]
    assert "unknown task id 'HumanEval/999'" in problems[2].message
    assert "missing field 'completion'" in problems[3].message
    assert "missing field 'task_id'" in problems[4].message
    assert "'completion' is a list" in problems[5].message
    assert "not UTF-8" in problems[6].message
    assert "not JSON" in problems[7].message
    assert "not an object" in problems[8].message
    assert str(problems[10]) == "line 10: repeats line 1 exactly (kept)"
    assert "repeats completion_id 3" in problems[12].message
    assert len(result.sha256) == 64


def test_megabyte_completions_are_read_and_overlong_lines_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(samples_module, "MAX_LINE_BYTES", 2_000_000)
    big = "    return True\n" + "#" * 1_500_000 + "\n"
    path = tmp_path / "big.jsonl"
    path.write_bytes(
        _line(task_id="HumanEval/0", completion=big)
        + _line(task_id="HumanEval/1", completion="x" * 3_000_000)
        + _line(task_id="HumanEval/1", completion="    return 1\n")
    )
    result = read_samples(path, KNOWN)
    assert [s.line for s in result.samples] == [1, 3]
    assert result.samples[0].completion == big
    assert [str(p) for p in result.problems] == ["line 2: longer than 2000000 bytes"]


def test_unusable_files_raise(tmp_path: Path) -> None:
    with pytest.raises(SamplesError, match="cannot read"):
        read_samples(tmp_path / "missing.jsonl", KNOWN)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(SamplesError, match="the file is empty"):
        read_samples(empty, KNOWN)
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\x00\x01\x02\n" + _line(task_id="nope", completion=""))
    with pytest.raises(SamplesError, match="line 2: unknown task id"):
        read_samples(junk, KNOWN)
