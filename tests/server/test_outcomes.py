"""The outcome log (schema version, torn line, cap) and the tracker's inference, without LSP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lsprotocol import types

from evolution.store.outcomes import SCHEMA_VERSION, OutcomeLog
from server.outcomes import edits
from server.outcomes.tracker import OutcomeTracker, Served

URI = "file:///w/a.py"


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def span(a: types.Position, b: types.Position | None = None) -> types.Range:
    return types.Range(start=a, end=b or a)


# -- the log -------------------------------------------------------------------------------


def test_records_carry_the_schema_version_and_read_back(tmp_path: Path):
    log = OutcomeLog(tmp_path / "outcomes" / "completions.jsonl")
    log.append({"id": "a", "outcome": "accepted"})
    log.append({"id": "b", "outcome": "dismissed"})
    contents = log.read()
    assert [r["id"] for r in contents.records] == ["a", "b"]
    assert all(r["schema_version"] == SCHEMA_VERSION for r in contents.records)
    assert contents.skipped_lines == 0


def test_a_torn_last_line_is_skipped_on_reading_and_set_aside_before_appending(tmp_path: Path):
    path = tmp_path / "completions.jsonl"
    good = json.dumps({"schema_version": SCHEMA_VERSION, "id": "a"})
    path.write_text(good + '\n{"schema_version": 1, "id": "to', encoding="utf-8")  # killed
    log = OutcomeLog(path)
    contents = log.read()
    assert [r["id"] for r in contents.records] == ["a"]
    assert contents.skipped_lines == 1
    log.append({"id": "b"})
    assert [r["id"] for r in log.read().records] == ["a", "b"]
    assert log.read().skipped_lines == 0  # the torn bytes went to a side file, not merged
    assert list(tmp_path.glob("completions.jsonl.torn-*"))


def test_other_schema_versions_and_junk_are_skipped(tmp_path: Path):
    path = tmp_path / "completions.jsonl"
    path.write_text('{"schema_version": 99, "id": "x"}\n[1, 2]\n', encoding="utf-8")
    assert OutcomeLog(path).read().skipped_lines == 2


def test_the_log_rotates_past_its_cap_and_keeps_the_newest(tmp_path: Path):
    log = OutcomeLog(tmp_path / "completions.jsonl", max_bytes=400)
    for n in range(40):
        log.append({"id": f"r{n}", "text": "x" * 20})
    files = [tmp_path / "completions.jsonl", tmp_path / "completions.1.jsonl"]
    assert all(f.stat().st_size <= 400 + 100 for f in files if f.exists())
    ids = [r["id"] for r in log.read().records]
    assert ids[-1] == "r39" and "r0" not in ids
    assert ids == sorted(ids, key=lambda i: int(i[1:]))


# -- positions -----------------------------------------------------------------------------


def test_positions_follow_inserts_and_deletes():
    assert edits.shift(pos(2, 5), span(pos(1, 0)), "a\nb", len, "start") == pos(3, 5)
    assert edits.shift(pos(2, 5), span(pos(2, 1)), "xy", len, "start") == pos(2, 7)
    assert edits.shift(pos(2, 5), span(pos(2, 6)), "xy", len, "start") == pos(2, 5)
    assert edits.shift(pos(2, 5), span(pos(1, 3), pos(2, 2)), "", len, "end") == pos(1, 6)
    assert edits.shift(pos(2, 5), span(pos(2, 5)), "q", len, "start") == pos(2, 6)
    assert edits.shift(pos(2, 5), span(pos(2, 5)), "q", len, "end") == pos(2, 5)


def test_retained_characters_and_reversal():
    assert edits.retained_chars("return a + b", "return a + b  # sum") == 12
    assert edits.retained_chars("return a + b", "return a - b") == 11
    assert edits.retained_chars("return a + b", "") == 0
    assert edits.reverted(12, 0) and not edits.reverted(12, 6)


# -- the tracker ---------------------------------------------------------------------------


class Harness:
    """A tracker with a manual clock, a document as lines, and the records it wrote."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.timers: list[tuple[float, Any]] = []
        self.written: list[dict[str, Any]] = []
        self.tracker = OutcomeTracker(
            schedule=self.schedule,
            read_span=self.read_span,
            write=self.written.append,
            checks=(("30s", 30.0), ("5m", 300.0)),
        )

    def schedule(self, delay: float, callback: Any) -> Any:
        entry = [delay, callback]
        self.timers.append((delay, entry))

        class Handle:
            def cancel(self) -> None:
                entry[1] = None

        return Handle()

    def run_timers(self, up_to: float) -> None:
        for delay, entry in sorted(self.timers, key=lambda t: t[0]):
            if delay <= up_to and entry[1] is not None:
                callback, entry[1] = entry[1], None
                callback()

    def read_span(self, uri: str, start: types.Position, end: types.Position) -> str:
        text = "\n".join(self.lines)
        return text[self.offset(start) : self.offset(end)]

    def offset(self, p: types.Position) -> int:
        return sum(len(line) + 1 for line in self.lines[: p.line]) + p.character

    def edit(self, a: types.Position, b: types.Position, text: str) -> None:
        whole = "\n".join(self.lines)
        whole = whole[: self.offset(a)] + text + whole[self.offset(b) :]
        self.lines = whole.split("\n")
        self.tracker.changed(URI, [(span(a, b), text)], len)

    def serve(self, at: types.Position, *texts: str) -> str:
        served = Served(URI, at, at, at, texts, model="tiny")
        return self.tracker.served(served)


def test_an_inserted_suggestion_is_an_inferred_acceptance_measured_later():
    h = Harness("def f(a, b):\n    ")
    at = pos(1, 4)
    h.serve(at, "return a + b")
    h.edit(at, at, "return a + b")
    summary = h.tracker.summary()
    assert summary["accepted"] == 1 and summary["acceptanceRate"] == 1.0
    assert summary["signals"]["accepted"] == "inferred"
    h.edit(pos(1, 15), pos(1, 16), "c")  # b -> c: one character changed
    h.run_timers(30)
    assert h.tracker.summary()["retainedCharRate"]["30s"] == round(11 / 12, 3)
    h.edit(pos(0, 0), pos(0, 0), "# header\n")  # lines above move the span down
    h.run_timers(300)
    [record] = h.written
    assert record["outcome"] == "accepted" and record["signal"] == "inferred"
    assert record["accepted_chars"] == 12
    assert record["retained_30s"] == 11 and record["retained_5m"] == 11
    assert record["reverted"] is False and record["model"] == "tiny"


def test_word_by_word_acceptance_is_partial_and_a_deletion_is_a_reversal():
    h = Harness("x = ")
    at = pos(0, 4)
    h.serve(at, "compute(value)")
    h.edit(at, at, "compute")  # one word accepted
    h.serve(pos(0, 11), "(value)")  # the editor asks again: the first one is settled
    summary = h.tracker.summary()
    assert summary["partial"] == 1 and summary["shown"] == 2
    h.edit(pos(0, 4), pos(0, 11), "")  # the accepted word deleted again
    h.run_timers(300)
    record = next(r for r in h.written if r["outcome"] == "partial")
    assert record["accepted_chars"] == 7 and record["retained_5m"] == 0
    assert record["reverted"] is True
    assert h.tracker.summary()["reverted"] == 1


def test_other_text_at_the_suggestion_is_typed_over_and_a_change_elsewhere_dismisses():
    h = Harness("a = \nb = ")
    h.serve(pos(0, 4), "1")
    h.edit(pos(0, 4), pos(0, 4), "2")
    h.serve(pos(1, 4), "3")
    h.edit(pos(0, 0), pos(0, 0), "#")
    h.run_timers(2)  # the grace for a late acceptance report
    assert [r["outcome"] for r in h.written] == ["typed-over", "dismissed"]
    assert h.tracker.summary()["acceptanceRate"] == 0.0


def test_typing_a_suggestion_by_hand_is_neither_accepted_nor_dismissed():
    h = Harness("a = ")
    h.serve(pos(0, 4), "value")
    h.edit(pos(0, 4), pos(0, 4), "v")
    h.serve(pos(0, 5), "alue")
    summary = h.tracker.summary()
    assert summary["accepted"] == summary["dismissed"] == summary["typedOver"] == 0


def test_asking_again_at_the_same_place_keeps_one_suggestion():
    h = Harness("a = ")
    first = h.serve(pos(0, 4), "1", "2")
    assert h.serve(pos(0, 4), "1", "2") == first
    assert h.tracker.summary()["shown"] == 1


def test_an_acceptance_report_corrects_an_unrecognised_change():
    h = Harness("a = ")
    suggestion = h.serve(pos(0, 4), "f(x)", "g(y)")
    h.edit(pos(0, 4), pos(0, 4), "g(y))")  # the editor closed a bracket on the way
    assert h.tracker.summary()["typedOver"] == 1
    assert h.tracker.accepted(suggestion, 1)
    summary = h.tracker.summary()
    assert summary["typedOver"] == 0 and summary["accepted"] == 1
    assert summary["signals"]["accepted"] == "observed"
    h.run_timers(300)
    [record] = h.written
    assert record["signal"] == "observed" and record["text"] == "g(y)"
    assert record["candidate"] == 1 and record["retained_5m"] == 4
    assert not h.tracker.accepted("no-such-id")


def test_shutdown_writes_what_is_known():
    h = Harness("a = ")
    h.serve(pos(0, 4), "1 + 2")
    h.edit(pos(0, 4), pos(0, 4), "1 + 2")
    written: list[dict[str, Any]] = []
    h.tracker.flush(written.append)
    [record] = written
    assert record["outcome"] == "accepted" and record["retained_30s"] is None
