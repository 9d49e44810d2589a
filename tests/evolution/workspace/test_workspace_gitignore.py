"""The gitignore subset: pattern by pattern, then the whole walk against git itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from workspace_helpers import write

from evolution.workspace.gitignore import IgnoreRules, parse_ignore_file
from evolution.workspace.scan import scan_workspace


def ignored(patterns: str, path: str, is_dir: bool = False, base: str = "") -> bool:
    return IgnoreRules().with_file(patterns, base).ignored(path, is_dir)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", "a.py", True),
        ("*.py", "deep/down/a.py", True),  # no slash: any depth
        ("*.py", "a.pyc", False),
        ("/a.py", "a.py", True),
        ("/a.py", "sub/a.py", False),  # leading slash: this folder only
        ("doc/*.txt", "doc/x.txt", True),
        ("doc/*.txt", "doc/sub/x.txt", False),  # "*" stops at "/"
        ("doc/*.txt", "other/doc/x.txt", False),  # a middle slash anchors too
        ("**/foo.py", "foo.py", True),
        ("**/foo.py", "a/b/foo.py", True),
        ("a/**/b.py", "a/b.py", True),
        ("a/**/b.py", "a/x/y/b.py", True),
        ("a/**/b.py", "c/a/x/b.py", False),
        ("a/**", "a/x.py", True),
        ("a/**", "a/x/y.py", True),
        ("a/**", "ab/x.py", False),
        ("?.py", "a.py", True),
        ("?.py", "ab.py", False),
        ("[ab].py", "b.py", True),
        ("[ab].py", "c.py", False),
        ("[!ab].py", "c.py", True),
        ("[!ab].py", "a.py", False),
        ("[a-c]x.py", "bx.py", True),
        ("\\#notes.py", "#notes.py", True),
        ("\\!bang.py", "!bang.py", True),
        ("spaced.py   ", "spaced.py", True),  # trailing spaces are dropped
        ("with\\ .py", "with .py", True),
        ("# comment.py", "# comment.py", False),
        ("[unclosed.py", "[unclosed.py", True),
        ("a+b(1).py", "a+b(1).py", True),  # regex characters are literal
    ],
)
def test_patterns(pattern: str, path: str, expected: bool):
    assert ignored(pattern + "\n", path) is expected


def test_a_trailing_slash_matches_folders_only():
    assert ignored("cache/\n", "cache", is_dir=True)
    assert not ignored("cache/\n", "cache", is_dir=False)
    assert ignored("cache/\n", "deep/cache", is_dir=True)


def test_the_last_matching_pattern_decides():
    rules = "*.py\n!keep.py\n"
    assert ignored(rules, "drop.py") and not ignored(rules, "keep.py")
    assert ignored(rules + "keep.py\n", "keep.py")


def test_a_deeper_file_overrides_and_applies_only_below_its_folder():
    rules = IgnoreRules().with_file("*.gen.py\n", "").with_file("!*.gen.py\nlocal.py\n", "sub")
    assert rules.ignored("top.gen.py", False)
    assert not rules.ignored("sub/x.gen.py", False)
    assert rules.ignored("sub/local.py", False) and not rules.ignored("local.py", False)
    assert not rules.ignored("subway/local.py", False)


def test_an_anchored_pattern_of_a_nested_file_is_relative_to_that_folder():
    rules = IgnoreRules().with_file("/only_here.py\nx/y.py\n", "pkg")
    assert rules.ignored("pkg/only_here.py", False)
    assert not rules.ignored("pkg/deeper/only_here.py", False)
    assert rules.ignored("pkg/x/y.py", False) and not rules.ignored("x/y.py", False)


def test_the_deciding_rule_is_reported():
    rules = IgnoreRules().with_file("*.py\n!keep.py\n", "")
    rule = rules.deciding_rule("keep.py", False)
    assert rule is not None and rule.negated and rule.pattern == "!keep.py"
    assert len(parse_ignore_file("\n# c\n\n!\n/\n")) == 0  # blank, comment, empty patterns


TRAILING_SPACES = "   "  # written out: an editor would strip them from the literal
# Patterns that git and the scan must read alike; each line is a case above or a combination.
ORACLE_GITIGNORE = f"""\
*.tmp.py
/top_only.py
lib/*.gen.py
**/cache_*.py
deep/**/leaf.py
out/
!out/keep.py
[abc]_x.py
?_q.py
logs/**
\\#hash.py
trailing.py{TRAILING_SPACES}
/*_root.py
!keep_root.py
"""
ORACLE_NESTED = "!*.tmp.py\nlocal.py\n/anchored.py\n"
ORACLE_FILES = [
    "a.tmp.py",
    "sub/a.tmp.py",
    "nested/b.tmp.py",
    "nested/local.py",
    "nested/anchored.py",
    "nested/deeper/anchored.py",
    "nested/deeper/local.py",
    "local.py",
    "anchored.py",
    "top_only.py",
    "sub/top_only.py",
    "lib/x.gen.py",
    "lib/sub/x.gen.py",
    "cache_1.py",
    "p/q/cache_2.py",
    "deep/leaf.py",
    "deep/a/b/leaf.py",
    "other/deep/leaf.py",
    "out/keep.py",
    "out/drop.py",
    "a_x.py",
    "d_x.py",
    "z_q.py",
    "zz_q.py",
    "logs/a.py",
    "logs/sub/b.py",
    "#hash.py",
    "trailing.py",
    "x_root.py",
    "sub/x_root.py",
    "keep_root.py",
    "plain.py",
]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_walk_agrees_with_git(tmp_path: Path):
    write(tmp_path, ".gitignore", ORACLE_GITIGNORE)
    write(tmp_path, "nested/.gitignore", ORACLE_NESTED)
    for rel in ORACLE_FILES:
        write(tmp_path, rel, "x = 1\n")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, env=env)
    write(tmp_path, ".git/info/exclude", "plain.py\n")
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "--", "*.py"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.split("\n")
    by_git = {line for line in listed if line}
    result = scan_workspace(tmp_path)
    # Every candidate that was not ignored is kept or skipped for its content ("x = 1" is
    # too small): the scan's ignore decisions are those of the files it reached.
    by_scan = {s.path for s in result.skips if not s.is_folder and s.reason != "gitignored"}
    by_scan |= {f.path for f in result.files}
    assert by_scan == by_git
    assert "nested/b.tmp.py" in by_git and "out/keep.py" not in by_git  # the cases are live
