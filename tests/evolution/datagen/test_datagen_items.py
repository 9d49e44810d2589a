"""Prompts, work items, seeds, shards and the descriptions file."""

from __future__ import annotations

import json

import pytest
from datagen_helpers import FIM_PROMPT, L2R_PROMPT

from evolution.datagen import DatagenConfig, InputError
from evolution.datagen.config import PromptsConfig
from evolution.datagen.items import (
    ShardSpec,
    code_items,
    derive_seed,
    name_items,
    read_descriptions,
)
from evolution.datagen.prompts import code_prompt, name_prompt


def test_the_name_prompts_are_the_designs() -> None:
    prompts = PromptsConfig()
    assert name_prompt("FIM", prompts) == FIM_PROMPT
    assert name_prompt("L2R", prompts) == L2R_PROMPT
    assert name_prompt("L2R", prompts).endswith("def ")  # " " is a stop: the space is ours


def test_fim_tokens_can_be_another_model_familys() -> None:
    starcoder = PromptsConfig(
        fim_prefix="<fim_prefix>", fim_suffix="<fim_suffix>", fim_middle="<fim_middle>"
    )
    assert name_prompt("FIM", starcoder) == (
        "<fim_prefix>This is an algorithm function.\n\ndef <fim_suffix>():\n<fim_middle>"
    )


def test_code_prompts_for_a_name_and_for_a_description() -> None:
    prompts = PromptsConfig()
    assert code_prompt(prompts, "merge_intervals") == (
        "This is an algorithm function.\n\ndef merge_intervals("
    )
    assert code_prompt(prompts, None, "Merge overlapping intervals.\n\n  Sorted output. ") == (
        "This is an algorithm function.\n\n# Merge overlapping intervals.\n#\n#   Sorted output.\n"
        "def "
    )
    assert code_prompt(prompts, "merge", "Merge.").endswith("# Merge.\ndef merge(")


def test_name_items_pair_the_arms_by_seed() -> None:
    config = DatagenConfig.from_mapping({"namegen": {"requests_per_arm": 3, "seed": 7}})
    items = name_items(config)
    assert [item.id for item in items] == [
        "FIM-000000", "FIM-000001", "FIM-000002", "L2R-000000", "L2R-000001", "L2R-000002",
    ]  # fmt: skip
    fim, l2r = items[:3], items[3:]
    assert (
        [i.seed for i in fim]
        == [i.seed for i in l2r]
        == [derive_seed(7, f"req-{k}") for k in range(3)]
    )
    assert len({i.seed for i in fim}) == 3
    assert {i.prompt for i in fim} == {FIM_PROMPT} and {i.prompt for i in l2r} == {L2R_PROMPT}
    other = DatagenConfig.from_mapping({"namegen": {"requests_per_arm": 3, "seed": 8}})
    assert name_items(other)[0].seed != fim[0].seed


def test_more_requests_only_add_items() -> None:
    small = name_items(DatagenConfig.from_mapping({"namegen": {"requests_per_arm": 2}}))
    large = name_items(DatagenConfig.from_mapping({"namegen": {"requests_per_arm": 5}}))
    assert all(item in large for item in small)


def test_shards_split_the_items_without_overlap() -> None:
    items = name_items(DatagenConfig.from_mapping({"namegen": {"requests_per_arm": 40}}))
    shards = [ShardSpec(i, 3).select(items) for i in (1, 2, 3)]
    ids = [item.id for shard in shards for item in shard]
    assert sorted(ids) == sorted(item.id for item in items)  # no gap, no overlap
    assert all(len(shard) > 10 for shard in shards)  # roughly even
    assert ShardSpec(2, 3).select(items) == shards[1]  # the same on every machine
    assert ShardSpec.parse(" 2/3 ") == ShardSpec(2, 3)
    assert ShardSpec(2, 3).tag == "shard-2-of-3"


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "1-2", "a/b", ""])
def test_bad_shard_specs_are_refused(text) -> None:
    with pytest.raises(InputError, match="--shard"):
        ShardSpec.parse(text)


def test_code_items_cover_names_and_descriptions(tmp_path) -> None:
    config = DatagenConfig.from_mapping({"codegen": {"seed": 5}})
    names = [{"func_name": "merge_intervals", "source": "L2R", "sources": {"L2R": 2}}]
    descs_file = tmp_path / "descs.jsonl"
    descs_file.write_text(
        json.dumps({"id": "a", "desc": "Sum two numbers.", "func_name": "add_two"})
        + "\n\n"
        + json.dumps({"desc": "Reverse a string."})
        + "\n"
    )
    items = code_items(config, names, read_descriptions(descs_file, []))
    assert [item.id for item in items][:2] == ["name:merge_intervals", "desc:a"]
    assert items[0].source == "L2R" and items[0].provenance == {"name_sources": {"L2R": 2}}
    assert items[0].seed == derive_seed(5, "name:merge_intervals")
    assert items[1].prompt.endswith("# Sum two numbers.\ndef add_two(")
    assert items[2].id.startswith("desc:") and items[2].func_name is None
    assert items[2].prompt.endswith("# Reverse a string.\ndef ")


def test_plain_text_descriptions_get_stable_ids(tmp_path) -> None:
    path = tmp_path / "descs.txt"
    path.write_text("Sum two numbers.\n\nReverse a string.\n")
    first = read_descriptions(path, [])
    path.write_text("Reverse a string.\nCount vowels.\nSum two numbers.\n")
    second = read_descriptions(path, [])
    assert {d.id: d.desc for d in first}.items() <= {d.id: d.desc for d in second}.items()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json\n", "line 1: not JSON"),
        ('["desc"]\n', "line 1: expected an object"),
        ('{"desc": ""}\n', "line 1: 'desc' must be a non-empty string"),
        ('{"desc": "x", "func_name": "two words"}\n', "'func_name' must be a Python identifier"),
        ('{"desc": "a", "id": 1}\n{"desc": "b", "id": 1}\n', "line 2: id '1' is already used"),
        ('{"desc": "a <|endoftext|> b"}\n', "contains the control token '<|endoftext|>'"),
    ],
)
def test_bad_description_files_name_the_line(tmp_path, content, message) -> None:
    path = tmp_path / "descs.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=r"descs\.jsonl") as caught:
        read_descriptions(path, ["<|endoftext|>"])
    assert message in str(caught.value)
