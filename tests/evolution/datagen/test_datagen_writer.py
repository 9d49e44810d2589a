"""The parts folder: groups written whole, crash leftovers set aside, locks, a full disk."""

from __future__ import annotations

import json

import pytest
from datagen_helpers import FullDisk

from evolution.datagen import InputError, OutputError, RunLocked
from evolution.datagen.writer import Parts, read_jsonl, write_jsonl
from evolution.store.records import json_line


def group(item: str, size: int = 3) -> list[dict]:
    return [
        {"id": f"{item}#{i}", "item_id": item, "group_size": size, "text": "x"} for i in range(size)
    ]


def test_groups_roll_over_into_new_files_and_read_back(tmp_path) -> None:
    parts = Parts(tmp_path, "raw")
    writer = parts.writer("shard-1-of-1", shard_size=4)
    for item in ("a", "b", "c"):
        writer.write_group(group(item))
    writer.close()
    files = parts.files()
    assert [f.name for f in files] == [
        "raw.shard-1-of-1.00000.jsonl",  # a, b: a group is never split (6 > 4 lines)
        "raw.shard-1-of-1.00001.jsonl",
    ]
    scan = parts.scan()
    assert scan.item_ids == {"a", "b", "c"} and len(scan.records) == 9
    # A new writer continues in the last file until it is full.
    writer = parts.writer("shard-1-of-1", shard_size=4)
    writer.write_group(group("d", 1))
    writer.close()
    assert len(parts.files()) == 2 and parts.scan().item_ids == {"a", "b", "c", "d"}


def test_an_unfinished_tail_of_our_own_is_set_aside(tmp_path) -> None:
    parts = Parts(tmp_path, "raw")
    writer = parts.writer("shard-1-of-1", shard_size=100)
    writer.write_group(group("a"))
    writer.write_group(group("b"))
    writer.close()
    [path] = parts.files()
    complete = path.read_bytes()
    lines_of_c = b"".join(json.dumps(r).encode() + b"\n" for r in group("c")[:2])
    path.write_bytes(complete + lines_of_c + b'{"id": "c#2", "item_')  # killed mid-write
    scan = parts.scan(own_tag="shard-1-of-1")
    assert scan.item_ids == {"a", "b"} and len(scan.records) == 6
    assert path.read_bytes() == complete  # cut back to whole groups
    [aside] = tmp_path.joinpath("parts").glob("*.torn-*")
    assert aside.read_bytes().startswith(lines_of_c)
    assert scan.set_aside_bytes == aside.stat().st_size


def test_another_shards_unfinished_tail_is_skipped_but_untouched(tmp_path) -> None:
    parts = Parts(tmp_path, "raw")
    writer = parts.writer("shard-2-of-2", shard_size=100)
    writer.write_group(group("a"))
    writer.close()
    [path] = parts.files()
    path.write_bytes(path.read_bytes() + b'{"id": "b#0", "item_id": "b", "group_size": 3}\n')
    before = path.read_bytes()
    scan = parts.scan(own_tag="shard-1-of-2")
    assert scan.item_ids == {"a"} and scan.skipped_tails == 1
    assert path.read_bytes() == before  # its writer may still be running


def test_an_item_found_twice_keeps_its_first_copy(tmp_path) -> None:
    parts = Parts(tmp_path, "raw")
    for tag in ("shard-1-of-2", "shard-2-of-2"):
        writer = parts.writer(tag, shard_size=100)
        writer.write_group(group("a") if tag.startswith("shard-1") else group("a", 2))
        writer.write_group(group(tag))
        writer.close()
    scan = parts.scan()
    assert scan.duplicate_items == 1
    assert [r["id"] for r in scan.records if r["item_id"] == "a"] == ["a#0", "a#1", "a#2"]


def test_a_full_disk_mid_group_leaves_no_part_of_it(tmp_path) -> None:
    parts = Parts(tmp_path, "raw")
    first = sum(len(json_line(record)) for record in group("a"))
    writer = parts.writer("shard-1-of-1", shard_size=100, write=FullDisk(room=first + 50))
    writer.write_group(group("a"))
    with pytest.raises(OutputError, match=r"No space left on device.*intact.*run the same"):
        writer.write_group(group("b"))  # the disk fills in the middle of it
    writer.close()
    [path] = parts.files()
    assert [json.loads(line)["item_id"] for line in path.read_text().splitlines()] == ["a"] * 3
    assert parts.scan(own_tag="shard-1-of-1").item_ids == {"a"}


def test_a_full_disk_keeps_the_previous_output_file(tmp_path) -> None:
    target = tmp_path / "filtered.jsonl"
    write_jsonl(target, [{"n": 1}, {"n": 2}])
    with pytest.raises(OutputError, match=r"filtered\.jsonl.*previous filtered\.jsonl"):
        write_jsonl(target, [{"n": i} for i in range(1000)], write=FullDisk(room=100))
    assert read_jsonl(target) == [{"n": 1}, {"n": 2}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["filtered.jsonl"]  # no staging left


def test_a_second_run_on_the_same_tag_is_refused(tmp_path) -> None:
    parts = Parts(tmp_path, "raw")
    with parts.lock("shard-1-of-1"):
        with (
            pytest.raises(RunLocked, match="another evoselfcode datagen run"),
            parts.lock("shard-1-of-1"),
        ):
            pass
        with parts.lock("shard-2-of-2"):  # other tags are free
            pass
        with pytest.raises(RunLocked):
            parts.ensure_unlocked()  # no merge while a shard writes
    parts.ensure_unlocked()


def test_parts_made_with_other_settings_are_refused(tmp_path) -> None:
    parts = Parts(tmp_path, "raw")
    settings = {"model": "m", "sampling": {"temperature": 0.4, "n": 4}}
    parts.check_manifest(settings)
    parts.check_manifest(dict(settings))  # the same: fine
    changed = {"model": "m", "sampling": {"temperature": 0.8, "n": 4}}
    with pytest.raises(InputError, match=r"other settings \(changed: sampling.temperature\)"):
        parts.check_manifest(changed)
