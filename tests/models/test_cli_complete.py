"""``evoselfcode complete FILE --line L --col C``: the infill from the shell."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from models import cli
from models.complete import split_at
from models.errors import InvalidRequestError

SOURCE = "def add(a, b):\n    return \n\nprint(add(1, 2))\n"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="evoselfcode")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["complete", *argv])
    return args.func(args)


def test_positions_are_one_based_like_an_editor():
    assert split_at(SOURCE, 2, 12) == ("def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n")
    assert split_at(SOURCE, 1, 1) == ("", SOURCE)
    assert split_at("a\r\nbc", 1, 2) == ("a", "\r\nbc")  # end of a CRLF line
    with pytest.raises(InvalidRequestError, match="line 9 is outside the file"):
        split_at(SOURCE, 9, 1)
    with pytest.raises(InvalidRequestError, match="columns 1 to 12"):
        split_at(SOURCE, 2, 13)


def test_json_result_and_random_weights_note(smoke_model_dir, tmp_path, capsys):
    source = tmp_path / "add.py"
    source.write_text(SOURCE, encoding="utf-8")
    code = run(
        str(source),
        "--line",
        "2",
        "--col",
        "12",
        "--model",
        str(smoke_model_dir),
        "--max-tokens",
        "6",
        "--dtype",
        "float32",
        "--json",
    )
    out, err = capsys.readouterr()
    assert code == 0
    result = json.loads(out)
    assert result["random_weights"] is True and result["model"] == smoke_model_dir.name
    assert result["finish_reason"] in ("eos", "length") and result["new_tokens"] <= 6
    assert result["prompt_tokens"] > 10 and result["utf8_replaced"] is False
    assert "RANDOM WEIGHTS" in err


def test_non_utf8_file_is_decoded_with_replacement_and_reported(smoke_model_dir, tmp_path, capsys):
    source = tmp_path / "latin1.py"
    source.write_bytes("name = 'Jos\xe9'\nprint(name)\n".encode("latin-1"))
    code = run(
        str(source),
        "--line",
        "2",
        "--col",
        "1",
        "--model",
        str(smoke_model_dir),
        "--max-tokens",
        "2",
        "--json",
    )
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["utf8_replaced"] is True
    assert "not valid UTF-8 (first bad byte at offset 11)" in err


def test_errors_are_short_and_have_exit_codes(smoke_model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = tmp_path / "a.py"
    source.write_text(SOURCE, encoding="utf-8")
    assert run(str(source), "--line", "2", "--col", "99", "--model", str(smoke_model_dir)) == 2
    assert "column 99 is outside line 2" in capsys.readouterr().err
    assert run(str(tmp_path / "missing.py"), "--line", "1", "--col", "1") == 1
    assert "cannot read" in capsys.readouterr().err
    assert (
        run(
            str(source),
            "--line",
            "1",
            "--col",
            "1",
            "--model",
            "No-Such-Model",
            "--models-dir",
            str(tmp_path),
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("error: model 'No-Such-Model' was not found") and "Traceback" not in err


def test_the_console_script_prints_an_infill(smoke_model_dir, tmp_path):
    source = tmp_path / "add.py"
    source.write_text(SOURCE, encoding="utf-8")
    script = Path(sys.executable).with_name("evoselfcode")
    done = subprocess.run(
        [
            str(script),
            "complete",
            str(source),
            "--line",
            "2",
            "--col",
            "12",
            "--model",
            str(smoke_model_dir),
            "--max-tokens",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "RANDOM WEIGHTS" in done.stderr and "finish:" in done.stderr
    assert "<|" not in done.stdout  # no special tokens in the printed infill
