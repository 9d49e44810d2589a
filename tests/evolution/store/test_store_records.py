"""The training-data store: append, read back, dedup, invalid input, export and stats."""

from __future__ import annotations

import json

import pytest

from evolution.store import SCHEMA_VERSION, InvalidRecord, TrainingStore

AREA = "def area(w, h):\n    return w * h\n"


@pytest.fixture
def store(tmp_path, humaneval_decontaminator):
    with TrainingStore.in_data_dir(tmp_path, decontaminator=humaneval_decontaminator) as opened:
        yield opened


def test_a_record_round_trips_with_hashes_and_provenance(store, make_draft, tmp_path):
    outcome = store.add(make_draft(AREA, instruct="面积: return the area 自我演化"))
    assert outcome.recorded and outcome.record_id and not outcome.flagged

    lines = (tmp_path / "training" / "pairs.jsonl").read_bytes().splitlines()
    assert len(lines) == 1
    raw = json.loads(lines[0])
    assert raw["schema_version"] == SCHEMA_VERSION
    assert raw["id"] == outcome.record_id
    assert raw["instruct"] == "面积: return the area 自我演化"  # readable UTF-8, not escapes
    assert "面积".encode() in lines[0]
    assert len(raw["content_hash"]) == 64 and len(raw["ast_hash"]) == 64
    assert raw["provenance"]["created_at"].endswith("+00:00")
    assert raw["decontamination"] == {"flagged": False, "reasons": [], "benchmarks": ["humaneval"]}

    record = store.get(outcome.record_id)
    assert record.code == AREA
    assert record.context.function_name == "area"
    assert record.provenance.confidence == 0.93
    assert record.provenance.gates[0]["name"] == "syntax"


def test_reopening_sees_every_record(tmp_path, make_draft, humaneval_decontaminator):
    codes = [f"def f{i}(x):\n    return x + {i}\n" for i in range(5)]
    with TrainingStore.in_data_dir(tmp_path, decontaminator=humaneval_decontaminator) as first:
        ids = [first.add(make_draft(code)).record_id for code in codes]
    with TrainingStore.in_data_dir(tmp_path, decontaminator=humaneval_decontaminator) as again:
        assert len(again) == 5
        assert [record.id for record in again.records()] == ids
        assert [record.code for record in again.records()] == codes


def test_same_code_reformatted_is_a_duplicate_and_not_appended(store, make_draft, tmp_path):
    first = store.add(make_draft(AREA))
    same = "def area(width,  height):\n    # product\n    return width * height\n"
    second = store.add(make_draft(same, instruct="another wording"))
    assert not second.recorded and second.duplicate_of == first.record_id
    assert len(store) == 1
    assert len((tmp_path / "training" / "pairs.jsonl").read_bytes().splitlines()) == 1
    different = store.add(make_draft(AREA.replace("*", "+")))
    assert different.recorded
    assert store.stats().duplicates_skipped == 1


def test_duplicate_count_survives_reopening(tmp_path, make_draft, humaneval_decontaminator):
    for _ in range(2):
        with TrainingStore.in_data_dir(tmp_path, decontaminator=humaneval_decontaminator) as s:
            s.add(make_draft(AREA))
    with TrainingStore.in_data_dir(tmp_path, decontaminator=humaneval_decontaminator) as s:
        assert s.stats().duplicates_skipped == 1
        assert s.stats().records == 1


@pytest.mark.parametrize(
    ("code", "instruct", "source", "message"),
    [
        ("def f(:\n", "fix it", "editor", "does not parse"),
        ("   \n", "fix it", "editor", "code is empty"),
        (AREA, "  ", "editor", "instruction is empty"),
        (AREA, "fix it", "chat", "not one of editor, batch, datagen"),
    ],
)
def test_invalid_drafts_are_refused_and_nothing_is_written(
    store, make_draft, tmp_path, code, instruct, source, message
):
    with pytest.raises(InvalidRecord, match=message):
        store.add(make_draft(code, instruct=instruct, source=source))
    assert (tmp_path / "training" / "pairs.jsonl").read_bytes() == b""
    assert len(store) == 0


def test_export_chat_writes_trainable_records_as_conversations(store, make_draft, tmp_path):
    kept = store.add(make_draft(AREA, instruct="Area of a rectangle."))
    store.add(make_draft("def has_close_elements(xs, t):\n    return False\n"))  # flagged
    target = tmp_path / "export" / "chat.jsonl"
    assert store.export_chat(target) == 1
    [line] = target.read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == {
        "messages": [
            {"role": "user", "content": "Area of a rectangle."},
            {"role": "assistant", "content": AREA},
        ],
        "id": kept.record_id,
    }


def test_stats_count_sources_flags_and_size(store, make_draft):
    store.add(make_draft(AREA, source="editor"))
    store.add(make_draft("def g(x):\n    return -x\n", source="batch", task_id="t1"))
    store.add(make_draft("def h(x):\n    return x * x * x\n", source="datagen"))
    store.add(make_draft("def sort_array(a):\n    return sorted(a)\n", source="batch"))
    stats = store.stats()
    assert stats.records == 4
    assert stats.by_source == {"editor": 1, "batch": 2, "datagen": 1}
    assert stats.flagged == 1 and stats.trainable == 3
    assert stats.file_bytes == store.path.stat().st_size
    assert stats.last_added is not None
    assert store.task_ids() == {"t1"}
    assert json.dumps(stats.to_dict())  # JSON-ready for the editor's "Show training data"
