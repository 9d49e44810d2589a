"""The macOS Seatbelt profile: closed by default, no network, writes only in the sample's folder."""

from __future__ import annotations

import os
import re

from evaluation.sandbox.seatbelt import profile, quote


def _rules(text: str, operation: str) -> list[str]:
    return re.findall(rf"\(allow {re.escape(operation)}\n((?:  .*\n?)+)\)", text)


def test_everything_is_denied_unless_allowed() -> None:
    text = profile("/private/tmp/s/1", ["/opt/project/lib"], "/usr/bin/python3")
    assert text.startswith("(version 1)\n(deny default)\n")
    assert "network" not in text  # no rule allows any network operation
    assert "mach-lookup" not in text and "ipc" not in text


def test_writes_only_in_the_private_folder() -> None:
    text = profile("/private/tmp/s/1", ["/opt/project/lib"], "/usr/bin/python3")
    (writes,) = _rules(text, "file-write*")
    assert writes.split("\n") == ['  (subpath "/private/tmp/s/1")', '  (literal "/dev/null")']
    assert text.count("file-write") == 1


def test_reads_what_it_was_given_and_the_system(tmp_path) -> None:
    text = profile(str(tmp_path / "own"), [str(tmp_path / "lib")], "/usr/bin/python3")
    (reads,) = _rules(text, "file-read*")
    assert f"(subpath {quote(str(tmp_path / 'lib'))})" in reads
    assert '(subpath "/System/Library")' in reads and '(literal "/dev/urandom")' in reads
    assert f"(subpath {quote(str(tmp_path / 'own'))})" in reads
    python = quote(os.path.realpath("/usr/bin/python3"))  # a link on most systems
    assert f"(allow process-exec (literal {python}))" in text


def test_a_path_cannot_inject_rules() -> None:
    assert quote('/a "b"\\c') == '"/a \\"b\\"\\\\c"'
    text = profile('/tmp/x")) (allow network*', [], "/usr/bin/python3")
    outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    assert "network" not in outside_strings
    assert outside_strings.count("(") == outside_strings.count(")")
