"""Crashes, torn lines, damaged indexes and several processes writing the same store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from evolution.store import Decontaminator, TrainingStore

REPO_ROOT = Path(__file__).resolve().parents[3]
NO_BENCHMARKS = Decontaminator([])


def _open(tmp_path: Path) -> TrainingStore:
    return TrainingStore.in_data_dir(tmp_path, decontaminator=NO_BENCHMARKS)


def _lines(tmp_path: Path) -> list[bytes]:
    return (tmp_path / "training" / "pairs.jsonl").read_bytes().splitlines(keepends=True)


def _fill(tmp_path: Path, make_draft, count: int) -> list[str]:
    with _open(tmp_path) as store:
        return [
            store.add(make_draft(f"def f{i}(x):\n    return x * {i}\n")).record_id or ""
            for i in range(count)
        ]


def test_a_torn_last_line_is_set_aside_on_open_and_never_merged(tmp_path, make_draft):
    ids = _fill(tmp_path, make_draft, 3)
    pairs = tmp_path / "training" / "pairs.jsonl"
    torn = b'{"schema_version":1,"id":"half-writ'
    with open(pairs, "ab") as handle:
        handle.write(torn)  # what a power loss can leave behind

    with _open(tmp_path) as store:
        assert [t.size for t in store.torn_tails] == [len(torn)]
        assert store.torn_tails[0].saved_to.read_bytes() == torn
        assert [record.id for record in store.records()] == ids
        after = store.add(make_draft("def g(x):\n    return x - 1\n"))
        assert store.stats().torn_tails_set_aside == 1
    lines = _lines(tmp_path)
    assert len(lines) == 4 and all(line.endswith(b"\n") for line in lines)
    assert json.loads(lines[-1])["id"] == after.record_id  # the new record stands alone


def test_an_unreadable_line_in_the_middle_is_skipped_and_counted(tmp_path, make_draft):
    _fill(tmp_path, make_draft, 2)
    pairs = tmp_path / "training" / "pairs.jsonl"
    with open(pairs, "ab") as handle:
        handle.write(b"this is not json\n")
    with _open(tmp_path) as store:
        store.add(make_draft("def g(x):\n    return x - 1\n"))
        stats = store.stats()
        assert stats.records == 3 and stats.unreadable_lines == 1
        assert len(list(store.records())) == 3
    assert b"this is not json\n" in pairs.read_bytes()  # kept as it was, not rewritten


def test_a_missing_or_damaged_index_is_rebuilt_from_the_records(tmp_path, make_draft):
    ids = _fill(tmp_path, make_draft, 4)
    index = tmp_path / "training" / "pairs.index.jsonl"
    assert len(index.read_bytes().splitlines()) == 4
    for damage in (b"garbage\n", b"", None):
        if damage is None:
            index.unlink()
        else:
            index.write_bytes(damage)
        with _open(tmp_path) as store:
            assert [record.id for record in store.records()] == ids
            assert store.stats().unreadable_lines == 0
        assert len(index.read_bytes().splitlines()) == 4


def test_an_index_describing_another_file_is_not_trusted(tmp_path, make_draft):
    _fill(tmp_path, make_draft, 3)
    pairs = tmp_path / "training" / "pairs.jsonl"
    lines = pairs.read_bytes().splitlines(keepends=True)
    reordered = (lines[1], lines[0], lines[2])  # same size, same line lengths, other order
    pairs.write_bytes(b"".join(reordered))
    with _open(tmp_path) as store:
        ids = [json.loads(line)["id"] for line in reordered]
        assert [record.id for record in store.records()] == ids
        assert store.get(ids[0]).id == ids[0]


def test_two_open_stores_see_each_others_records_and_share_dedup(tmp_path, make_draft):
    with _open(tmp_path) as first, _open(tmp_path) as second:
        added = first.add(make_draft("def f(x):\n    return x + 1\n"))
        again = second.add(make_draft("def f(y):\n    return y + 1\n"))
        assert again.duplicate_of == added.record_id
        second.add(make_draft("def g(x):\n    return x + 2\n"))
        assert len(first) == 1
        first.refresh()
        assert len(first) == 2


_WRITER = textwrap.dedent(
    """
    import sys
    from evolution.store import Decontaminator, Provenance, RecordDraft, TrainingStore
    data_dir, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = TrainingStore.in_data_dir(data_dir, decontaminator=Decontaminator([]))
    for i in range(count):
        code = f"def {tag}_{i}(x):\\n    return x + {i}  # " + "padding " * 200 + "\\n"
        outcome = store.add(RecordDraft(instruct=f"task {tag} {i}", code=code, source="batch",
                                        provenance=Provenance(task_id=f"{tag}-{i}")))
        print(outcome.record_id, flush=True)
    """
)


def _writer(tmp_path: Path, tag: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path), tag, str(count)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_appending_at_once_lose_and_tear_nothing(tmp_path):
    writers = [_writer(tmp_path, tag, 40) for tag in ("a", "b")]
    printed = [writer.communicate(timeout=120)[0].split() for writer in writers]
    assert all(writer.returncode == 0 for writer in writers)
    lines = _lines(tmp_path)
    assert len(lines) == 80
    assert {json.loads(line)["id"] for line in lines} == set(printed[0] + printed[1])
    with _open(tmp_path) as store:
        assert len(store) == 80
        assert len(store.task_ids()) == 80


def test_kill_9_mid_batch_loses_no_recorded_line_and_leaves_no_partial_one(tmp_path):
    writer = _writer(tmp_path, "k", 100_000)
    assert writer.stdout is not None
    recorded = [writer.stdout.readline().strip() for _ in range(30)]
    time.sleep(0.05)  # let it be in the middle of further appends
    os.kill(writer.pid, signal.SIGKILL)
    rest = writer.stdout.read().split()
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL

    data = (tmp_path / "training" / "pairs.jsonl").read_bytes()
    assert data.endswith(b"\n")
    ids = [json.loads(line)["id"] for line in data.splitlines()]  # every line parses
    assert set(recorded + rest) <= set(ids)  # everything it reported as recorded is there
    assert len(ids) < 100_000
    with _open(tmp_path) as store:
        assert store.torn_tails == []
        assert len(store) == len(ids)
