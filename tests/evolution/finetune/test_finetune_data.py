"""From pairs to examples: reading, held-out split, formats, labels and EOS, bad data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from finetune_helpers import synthetic_pairs, write_jsonl

from evolution.finetune.dataset import fim_sources, prepare_data
from evolution.finetune.errors import DataError
from evolution.finetune.formatting import IGNORE_INDEX, ExampleRenderer, choose_middle
from evolution.finetune.records import (
    MIN_HELDOUT,
    TrainingPair,
    data_hash,
    load_pairs,
    split_heldout,
)
from evolution.store.records import content_hash


@pytest.fixture(scope="module")
def tokenizer(smoke_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smoke_model_dir)


@pytest.fixture(scope="module")
def serving_model(smoke_model_dir: Path):
    from models import load_model

    return load_model(smoke_model_dir, device="cpu", dtype="float32")


# --- reading -------------------------------------------------------------------------------


def test_plain_jsonl_reads_records_and_chat_lines_and_skips_flagged_ones(tmp_path: Path):
    rows = [
        {"instruct": "a", "code": "x = 1\n"},
        {"messages": [{"role": "user", "content": "b"}, {"role": "assistant", "content": "y = 2"}]},
        {"instruct": "c", "code": "z = 3\n", "decontamination": {"flagged": True}},
        {"instruct": "a", "code": "x = 1\n"},  # duplicate
    ]
    pairs = load_pairs(write_jsonl(tmp_path / "p.jsonl", rows))
    assert [(p.instruct, p.code) for p in pairs] == [("a", "x = 1\n"), ("b", "y = 2")]
    assert pairs[0].key == content_hash("a", "x = 1\n")  # the store's content hash


def test_the_training_store_is_read_through_its_api_without_flagged_records(tmp_path: Path):
    from evolution.store import BenchmarkText, Decontaminator, RecordDraft, TrainingStore

    # The store itself flags a pair that defines a benchmark task's entry point.
    benchmark = BenchmarkText(
        "humaneval", "HumanEval/0", "def has_close_elements(): ...", "has_close_elements"
    )
    leaked = {"instruct": "Close elements?", "code": "def has_close_elements(xs, t):\n    ...\n"}
    store_path = tmp_path / "training" / "pairs.jsonl"
    with TrainingStore(store_path, decontaminator=Decontaminator([benchmark])) as store:
        for row in [*synthetic_pairs(3), leaked]:
            draft = RecordDraft(instruct=row["instruct"], code=row["code"], source="editor")
            assert store.add(draft).recorded
    pairs = load_pairs(store_path)
    assert sorted(p.instruct for p in pairs) == sorted(r["instruct"] for r in synthetic_pairs(3))


def test_a_missing_file_and_a_malformed_line_are_clear_errors(tmp_path: Path):
    with pytest.raises(DataError, match="no training data at"):
        load_pairs(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruct": "a", "code": "b"}\n{not json\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2"):
        load_pairs(bad)
    odd = write_jsonl(tmp_path / "odd.jsonl", [{"prompt": "a", "completion": "b"}])
    with pytest.raises(DataError, match=r"odd\.jsonl:1: expected"):
        load_pairs(odd)


# --- held-out split -------------------------------------------------------------------------


def test_the_split_depends_on_content_only_and_is_stable_as_data_grows():
    pairs = [TrainingPair.of(r["instruct"], r["code"]) for r in synthetic_pairs(200)]
    train, heldout = split_heldout(pairs, 0.1)
    shuffled = pairs[:]
    random.Random(1).shuffle(shuffled)
    assert {p.key for p in split_heldout(shuffled, 0.1)[1]} == {p.key for p in heldout}
    assert 5 <= len(heldout) <= 40 and len(train) + len(heldout) == 200
    more = pairs + [TrainingPair.of(f"new {i}", f"v = {i}\n") for i in range(100)]
    assert {p.key for p in heldout} <= {p.key for p in split_heldout(more, 0.1)[1]}
    assert data_hash(pairs) == data_hash(shuffled) != data_hash(more)


def test_a_tiny_store_still_holds_out_enough_for_the_gate():
    pairs = [TrainingPair.of(r["instruct"], r["code"]) for r in synthetic_pairs(5)]
    train, heldout = split_heldout(pairs, 0.01)
    assert len(heldout) == MIN_HELDOUT and len(train) == 3


# --- formats, labels, EOS ------------------------------------------------------------------


def test_chat_examples_mask_the_prompt_and_end_with_im_end_in_the_labels(tokenizer):
    renderer = ExampleRenderer(tokenizer, "You are terse.")
    pair = TrainingPair.of("Add two numbers.", "def add(a, b):\n    return a + b\n")
    example = renderer.chat(pair)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    answer = [i for i, label in enumerate(example.labels) if label != IGNORE_INDEX]
    # Loss on a contiguous tail: the code, then <|im_end|> (kept, not masked as padding).
    assert answer == list(range(answer[0], len(example)))
    assert example.labels[-1] == example.input_ids[-1] == im_end
    assert tokenizer.decode(example.input_ids[answer[0] : -1]) == pair.code
    prompt = tokenizer.decode(example.input_ids[: answer[0]])
    assert prompt.startswith("<|im_start|>system\nYou are terse.<|im_end|>")
    assert prompt.endswith("<|im_start|>user\nAdd two numbers.<|im_end|>\n<|im_start|>assistant\n")


def test_prompts_are_encoded_exactly_as_the_serving_runtime_encodes_them(tokenizer, serving_model):
    from models.prompts import fim_prompt

    renderer = ExampleRenderer(tokenizer, "")
    code = "def area(w, h):\n    # <|fim_middle|> is text here\n    return w * h\n"
    pair = TrainingPair.of("Area.", code)
    rng = random.Random(3)
    for _ in range(20):
        example = renderer.fim(pair, rng)
        assert example is not None
        start = example.labels.index(next(x for x in example.labels if x != IGNORE_INDEX))
        prefix, middle = _fim_parts(tokenizer, example, start)
        suffix = code[len(prefix) + len(middle) :]
        assert code == prefix + middle + suffix
        assert example.input_ids[:start] == serving_model.encode(fim_prompt(prefix, suffix))
        assert example.labels[-1] == tokenizer.eos_token_id


def test_special_token_text_inside_code_stays_literal(tokenizer):
    renderer = ExampleRenderer(tokenizer, "")
    code = 'END = "<|im_end|>"\nEOS = "<|endoftext|>"\n'
    example = renderer.chat(TrainingPair.of("Define the markers.", code))
    special = set(tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"]))
    answer = [
        t
        for t, label in zip(example.input_ids, example.labels, strict=True)
        if label != IGNORE_INDEX
    ]
    assert [t for t in answer if t in special] == [answer[-1]]  # only the real end token


def test_fim_middles_are_nonempty_spans_that_rebuild_the_code():
    code = "import os\n\n\ndef f(x):\n    y = x + 1\n    return y\n"
    rng = random.Random(0)
    shapes = set()
    for _ in range(200):
        prefix, middle, suffix = choose_middle(code, rng)
        assert prefix + middle + suffix == code and middle.strip()
        shapes.add(middle.endswith("\n"))
    assert shapes == {True, False}  # both rest-of-line and whole-line middles occur
    assert choose_middle("\n\n   \n", rng) is None


@pytest.mark.parametrize(("share", "expected"), [(0.0, 0), (0.2, 5), (0.5, 20), (1.0, 20)])
def test_the_fim_share_sets_the_share_of_fim_examples(share, expected):
    pairs = [TrainingPair.of(r["instruct"], r["code"]) for r in synthetic_pairs(20)]
    sources = fim_sources(pairs, share, seed=0)
    assert len(sources) == expected
    assert sources == fim_sources(pairs, share, seed=0)  # deterministic


# --- preparing a run's data and bad input ---------------------------------------------------


def test_records_too_long_are_skipped_and_counted_not_truncated(tokenizer, tiny_config):
    rows = synthetic_pairs(10) + synthetic_pairs(4, body_lines=60)[:4]
    pairs = [TrainingPair.of(r["instruct"], r["code"]) for r in rows]
    train, heldout = split_heldout(pairs, 0.2)
    data = prepare_data(train, heldout, tokenizer, tiny_config(max_length=128, fim_share=0.0))
    assert sum(data.stats.skipped_too_long.values()) == 4
    assert data.stats.longest_tokens > 128
    assert all(len(e) <= 128 for e in data.train + data.heldout)
    assert all(e.labels[-1] != IGNORE_INDEX for e in data.train)  # every kept one is whole


def test_an_empty_or_tiny_store_or_all_too_long_is_refused_with_the_setting_to_change(
    tokenizer, tiny_config
):
    config = tiny_config(min_records=8)
    with pytest.raises(DataError, match="no usable training records"):
        prepare_data([], [], tokenizer, config)
    few = [TrainingPair.of(r["instruct"], r["code"]) for r in synthetic_pairs(5)]
    with pytest.raises(DataError, match=r"only 5 .*min_records=8"):
        prepare_data(*split_heldout(few, 0.2), tokenizer, config)
    long = [TrainingPair.of(r["instruct"], r["code"]) for r in synthetic_pairs(8, body_lines=60)]
    with pytest.raises(DataError, match=r"max_length=64"):
        prepare_data(*split_heldout(long, 0.2), tokenizer, tiny_config(max_length=64))


def _fim_parts(tokenizer, example, answer_start):
    """(prefix, middle) of a FIM example, decoded from its tokens."""
    text = tokenizer.decode(example.input_ids[:answer_start])
    prefix = text.split("<|fim_prefix|>", 1)[1].split("<|fim_suffix|>", 1)[0]
    middle = tokenizer.decode(example.input_ids[answer_start:-1])
    return prefix, middle
