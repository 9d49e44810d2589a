"""Accepted-and-kept completions of the server's real outcome log become targets; nothing
else does, and each record left out is counted by reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from workspace_helpers import write

from evolution.pretrain.cleaning import normalise
from evolution.store.outcomes import OutcomeLog, log_path
from evolution.workspace.accepted import (
    RECORD_REASONS,
    SEARCH_LINES,
    find_accepted_targets,
    read_outcome_log,
)

CORE = """\
class Ledger:
    def __init__(self):
        self.total = 0

    def add(self, value, scale=1):
        result = scale * value + 1
        self.total += result
        return self.total

    def reset(self):
        self.total = 0
        return 0
"""
# Lines the user wrote above everything after the completions were accepted.
INSERTED = "import math\nimport os\n\n\nHALF = 0.5\n"


def outcome(path: Path, line: int, text: str, **fields: Any) -> dict[str, Any]:
    """A record shaped as ``server.outcomes.tracker.Suggestion.record`` writes it."""
    accepted_chars = fields.pop("accepted_chars", len(text))
    return {
        "id": fields.pop("id", f"r-{line}-{len(text)}"),
        "uri": fields.pop("uri", path.as_uri()),
        "position": {"line": line, "character": fields.pop("character", 0)},
        "text": text,
        "candidate": 0,
        "candidates": 1,
        "model": "evoselfcode-small",
        "adapter": None,
        "shown_at": "2025-01-01T00:00:00.000+00:00",
        "outcome": fields.pop("outcome", "accepted"),
        "signal": "inferred",
        "accepted_chars": accepted_chars,
        "retained_30s": fields.pop("retained_30s", accepted_chars),
        "retained_5m": fields.pop("retained_5m", accepted_chars),
        "reverted": fields.pop("reverted", False),
        "settled_at": "2025-01-01T00:05:00.000+00:00",
        **fields,
    }


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ledger"
    write(root, "app/core.py", INSERTED + CORE)  # the file as it is now
    write(root, "app/ignored.py", CORE)
    return root


def log_records(data_dir: Path, records: list[dict[str, Any]], max_bytes: int = 1 << 20) -> None:
    outcome_log = OutcomeLog(log_path(data_dir), max_bytes=max_bytes)
    for record in records:
        outcome_log.append(record)
    outcome_log.close()


def texts_of(root: Path, *paths: str) -> dict[str, str]:
    return {p: normalise((root / p).read_text(encoding="utf-8")) for p in paths}


def test_accepted_kept_completions_become_targets_where_they_are_now(workspace: Path, tmp_path):
    core = workspace / "app/core.py"
    records = [
        # accepted at line 7 of CORE, now 5 lines further down
        outcome(core, 7, "return self.total\n", character=8, id="whole"),
        # partly accepted: its first 13 characters ("scale * value") taken
        outcome(core, 5, "scale * value + 1\n", outcome="partial", accepted_chars=13, id="part"),
    ]
    log_records(tmp_path / "data", records)
    texts = texts_of(workspace, "app/core.py")
    search = find_accepted_targets(read_outcome_log(tmp_path / "data"), workspace, texts)
    assert [(t.record_id, t.middle, t.outcome) for t in search.targets] == [
        ("part", "scale * value", "partial"),
        ("whole", "return self.total\n", "accepted"),
    ]
    for target in search.targets:
        prefix, middle, suffix = target.split(texts["app/core.py"])
        assert prefix + middle + suffix == texts["app/core.py"]
        assert middle == target.middle
    whole = search.targets[1]
    assert texts["app/core.py"][: whole.start].endswith("self.total += result\n        ")
    assert not search.not_used


def test_the_occurrence_nearest_the_logged_position_is_taken(workspace: Path):
    core = workspace / "app/core.py"
    texts = texts_of(workspace, "app/core.py")
    text = texts["app/core.py"]
    near_reset = outcome(core, 15, "self.total = 0\n", character=8)  # reset()'s, not __init__'s
    (target,) = find_accepted_targets([near_reset], workspace, texts).targets
    assert target.start == text.rindex("self.total = 0\n")
    near_init = outcome(core, 7, "self.total = 0\n", character=8)
    (target,) = find_accepted_targets([near_init], workspace, texts).targets
    assert target.start == text.index("self.total = 0\n")


def test_line_end_blanks_and_crlf_of_the_suggestion_match_the_normalised_file(workspace: Path):
    core = workspace / "app/core.py"
    texts = texts_of(workspace, "app/core.py")
    record = outcome(core, 11, "self.total += result   \r\n        ", character=8)
    (target,) = find_accepted_targets([record], workspace, texts).targets
    assert target.middle == "self.total += result\n"


def test_every_other_record_is_counted_by_reason(workspace: Path, tmp_path: Path):
    core = workspace / "app/core.py"
    records = [
        outcome(core, 7, "return self.total\n", outcome="dismissed"),
        outcome(core, 7, "return self.total\n", outcome="typed-over"),
        outcome(core, 7, "return self.total\n", reverted=True, retained_5m=0),
        outcome(core, 7, "return self.total\n", retained_5m=3),  # mostly rewritten
        outcome(core, 7, "return self.total\n", retained_30s=None, retained_5m=None),
        outcome(tmp_path / "elsewhere.py", 1, "x = 1\n"),
        outcome(core, 1, "x = 1\n", uri="untitled:Untitled-1"),
        outcome(core, 7, "return self.grand_total\n"),  # no longer in the file
        outcome(workspace / "app/ignored.py", 7, "return self.total\n"),  # not learned from
        outcome(core, 7, "    \n"),
        {**outcome(core, 7, "x\n"), "accepted_chars": None},
        outcome(core, 7, "return self.total\n", id="first"),
        outcome(core, 7, "return self.total\n", id="again"),  # the same place again
    ]
    log_records(tmp_path / "data", records)
    texts = texts_of(workspace, "app/core.py")
    search = find_accepted_targets(read_outcome_log(tmp_path / "data"), workspace, texts)
    assert [t.record_id for t in search.targets] == ["first"]
    assert dict(search.not_used) == {
        "dismissed": 1,
        "typed-over": 1,
        "reverted": 1,
        "not-retained": 1,
        "not-measured": 1,
        "outside-workspace": 1,
        "not-a-file": 1,
        "not-found": 1,
        "file-not-used": 1,
        "blank": 1,
        "malformed": 1,
        "duplicate": 1,
    }
    assert set(search.not_used) <= set(RECORD_REASONS)


def test_a_text_further_than_the_search_window_is_not_that_completion(tmp_path: Path):
    root = tmp_path / "long"
    filler = "".join(f"value_{i} = {i}\n" for i in range(SEARCH_LINES + 50))
    write(root, "long.py", "total = compute()\n" + filler)
    texts = texts_of(root, "long.py")
    near = outcome(root / "long.py", SEARCH_LINES - 1, "total = compute()\n")
    far = outcome(root / "long.py", SEARCH_LINES + 1, "total = compute()\n")
    past_the_end = outcome(root / "long.py", 3 * SEARCH_LINES, "total = compute()\n")
    search = find_accepted_targets([near, far, past_the_end], root, texts)
    assert [t.start for t in search.targets] == [0]
    assert search.not_used == {"not-found": 2}


def test_the_log_is_read_with_its_rotated_part_oldest_first(tmp_path: Path):
    core = tmp_path / "ws" / "core.py"
    records = [outcome(core, i, f"value_{i} = {i}\n", id=f"n{i}") for i in range(30)]
    log_records(tmp_path / "data", records, max_bytes=4096)  # rotates once or more
    assert (tmp_path / "data" / "outcomes" / "completions.1.jsonl").exists()
    ids = [r["id"] for r in read_outcome_log(tmp_path / "data")]
    assert ids == [f"n{i}" for i in range(30)][-len(ids) :] and len(ids) > 5
    assert read_outcome_log(tmp_path / "nothing-here") == []
