"""Docstring → function pairs: cut with ast from the files a model trained on, never from the
ones it held out, deduplicated, with bounded bodies."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from evolution.chattune.pairs import MAX_BODY_LINES, build_pairs, functions_of, model_pairs
from evolution.pretrain.cleaning import normalise
from evolution.pretrain.dedup import text_sha256

MODULE = (
    '''"""A module."""

import functools


def clamp(value, low, high):
    """Return ``value`` limited to the range from ``low`` to ``high``."""
    if value < low:
        return low
    return min(value, high)


def undocumented(x):
    y = x + 1
    return y * 2


def one_liner(x):
    """Return the argument plus one, always."""
    return x + 1


@functools.lru_cache
async def fetch(url: str, *, retries: int = 3) -> bytes:
    """Fetch the bytes at ``url``, retrying a few times."""
    for attempt in range(retries):
        data = await get(url)

        if data:
            return data
    raise IOError(url)


def long_one(x):
    """Compute something over far too many lines."""
'''
    + "".join(f"    x = x + {i}\n" for i in range(MAX_BODY_LINES + 1))
    + '''


class Shape:
    """A shape."""

    def area(self, scale=1.0):
        """The area of the shape, scaled by ``scale``."""
        width = self.width * scale
        return width * self.height * scale

    def outer(self):
        """Call a helper defined inside this method."""
        def inner():
            """Inner functions are not pairs of their own."""
            return 1
        return inner()
'''
)


def test_functions_with_a_docstring_and_a_bounded_body_become_pairs():
    skipped: dict = {}
    from collections import Counter

    skipped = Counter()
    pairs = {p.qualname: p for p in functions_of("stdlib:mod.py", MODULE, skipped)}
    assert set(pairs) == {"clamp", "fetch", "Shape.area", "Shape.outer"}
    assert skipped["no-docstring"] == 1 and skipped["body-size"] == 2  # one-liner, long_one
    clamp = pairs["clamp"]
    assert clamp.signature == "def clamp(value, low, high):"
    assert clamp.docstring == "Return ``value`` limited to the range from ``low`` to ``high``."
    assert clamp.code == (
        "def clamp(value, low, high):\n    if value < low:\n        return low\n"
        "    return min(value, high)\n"
    )
    assert clamp.body == "if value < low:\n    return low\nreturn min(value, high)\n"
    assert clamp.instruction() == (
        "Write a Python function `def clamp(value, low, high):`\n\n" + clamp.docstring
    )
    assert clamp.instruction(with_signature=False) == clamp.docstring
    fetch = pairs["fetch"]  # async, annotated, decorated: no decorator, blank line kept
    assert fetch.signature == "async def fetch(url: str, *, retries: int=3) -> bytes:"
    assert fetch.code.startswith("async def fetch(") and "lru_cache" not in fetch.code
    assert "\n\n        if data:" in fetch.code
    method = pairs["Shape.area"]  # dedented to column 0, and the answer parses alone
    assert method.code.startswith("def area(self, scale=1.0):\n    width = ")
    for pair in pairs.values():
        tree = ast.parse(pair.code)
        assert len(tree.body) == 1 and ast.get_docstring(tree.body[0]) is None  # type: ignore[arg-type]


def test_training_pairs_mix_in_docstrings_alone_and_eval_pairs_always_name_the_function():
    pairs = [
        p
        for i in range(200)
        for p in functions_of("stdlib:m.py", MODULE.replace("clamp", f"clamp{i}"))
        if p.qualname.startswith("clamp")
    ]
    plain = sum(p.training_pair(0).instruct == p.docstring for p in pairs)
    assert 25 <= plain <= 75  # NO_SIGNATURE_SHARE = 0.25 of 200, by key
    assert all(p.eval_pair().instruct.startswith("Write a Python function `def") for p in pairs)
    assert all(p.training_pair(0).code == p.code for p in pairs)


def test_heldout_pairs_come_first_and_no_copy_of_one_is_trained_on():
    other = MODULE.replace("Return ``value`` limited", "Give ``value`` bounded")
    other = other.replace("return min(value, high)", "return max(min(value, high), low)")
    result = build_pairs(
        [("stdlib:copy.py", MODULE), ("stdlib:other.py", other)],
        [("stdlib:held.py", MODULE)],
    )
    assert {p.source for p in result.heldout} == {"stdlib:held.py"}
    # Every function of copy.py is a copy; of other.py only clamp's docstring and code differ.
    assert [(p.source, p.qualname) for p in result.train] == [("stdlib:other.py", "clamp")]
    assert result.skipped["duplicate"] == 2 * len(result.heldout) - 1


def test_pairs_of_a_model_folder_come_from_its_listed_files_found_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import evolution.pretrain.heldout as heldout

    std, site = tmp_path / "std", tmp_path / "site"
    files = {
        "stdlib:train_a.py": MODULE,
        "stdlib:held_b.py": MODULE.replace("clamp", "bound").replace("Return", "Give"),
        "site-packages:pkg/changed.py": MODULE.replace("clamp", "squeeze"),
    }
    for name, text in files.items():
        source, _, rel = name.partition(":")
        path = (std if source == "stdlib" else site) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(
        heldout.sysconfig, "get_paths", lambda: {"stdlib": str(std), "purelib": str(site)}
    )
    folder = tmp_path / "model"
    folder.mkdir()

    def rows(names: list[str], changed: str = "") -> dict:
        listed = [
            [n, "0" * 64 if n == changed else text_sha256(normalise(files[n])), 1] for n in names
        ]
        return {"files": listed}

    train_names = ["stdlib:train_a.py", "site-packages:pkg/changed.py"]
    manifest = rows(train_names, changed="site-packages:pkg/changed.py")
    (folder / "data_manifest.json").write_text(json.dumps(manifest))
    (folder / "heldout.json").write_text(json.dumps(rows(["stdlib:held_b.py"])))
    pairs, found = model_pairs(folder)
    assert {p.source for p in pairs.train} == {"stdlib:train_a.py"}  # the changed file is out
    assert {p.source for p in pairs.heldout} == {"stdlib:held_b.py"}
    assert found["training"].startswith("1 of the 2 training files found unchanged")
    assert not {p.code for p in pairs.train} & {p.code for p in pairs.heldout}
