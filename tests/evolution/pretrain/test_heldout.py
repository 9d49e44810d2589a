"""A trained model's held-out files, found again on this machine by path and hash."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest

from evolution.pretrain.cleaning import normalise
from evolution.pretrain.dedup import text_sha256
from evolution.pretrain.heldout import heldout_files


def _listing(folder: Path, rows: list[list[object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"schema": 1, "files_columns": ["file", "sha256", "bytes"], "files": rows}
    (folder / "heldout.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def test_files_are_kept_only_where_they_hash_as_trained_on(tmp_path: Path):
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    text = normalise((stdlib / "textwrap.py").read_text(encoding="utf-8"))
    folder = _listing(
        tmp_path / "model",
        [
            ["stdlib:textwrap.py", text_sha256(text), 1],
            ["stdlib:shlex.py", "0" * 64, 1],  # another release of the file
            ["stdlib:no_such_module_here.py", "0" * 64, 1],
            ["elsewhere:x.py", "0" * 64, 1],  # a root this machine does not know
        ],
    )
    found = heldout_files(folder)
    assert found.files == [("stdlib:textwrap.py", text)]
    assert (found.listed, found.missing, found.changed) == (4, 2, 1)
    assert found.describe() == (
        "1 of the 4 held-out files found unchanged (2 missing, 1 changed on this machine)"
    )


def test_a_folder_without_the_listing_says_where_it_comes_from(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="must come from `evoselfcode pretrain`"):
        heldout_files(tmp_path)
