"""Batched generation with left padding equals generating one by one (greedy)."""

from __future__ import annotations

from models import SamplingParams, fim_prompt


def prompts(source_text: str) -> list:
    return [
        "def add(a, b):\n",
        fim_prompt(source_text[:900], source_text[900:1000]),
        source_text[3000:3040],
        fim_prompt("", ""),
        source_text[:2000],
        "x",
    ]


def test_batch_equals_one_by_one(lively_uncached, source_text):
    params = SamplingParams(max_new_tokens=20, min_new_tokens=20)
    batch = lively_uncached.generate_batch(prompts(source_text), params)
    singles = [lively_uncached.generate(p, params) for p in prompts(source_text)]
    assert [g.token_ids for g in batch] == [g.token_ids for g in singles]
    assert [g.text for g in batch] == [g.text for g in singles]
    assert [g.prompt_tokens for g in batch] == [g.prompt_tokens for g in singles]
    assert len({g.token_ids for g in batch}) == len(batch)  # really different rows


def test_each_sequence_stops_on_its_own(lively_uncached, source_text):
    free = SamplingParams(max_new_tokens=24, min_new_tokens=24)
    reference = [g.text for g in lively_uncached.generate_batch(prompts(source_text), free)]
    stop = reference[0][5:8]  # a string that occurs in the first row's output
    params = SamplingParams(max_new_tokens=24, min_new_tokens=24, stop=(stop,))
    batch = lively_uncached.generate_batch(prompts(source_text), params)
    singles = [lively_uncached.generate(p, params) for p in prompts(source_text)]
    assert [(g.text, g.finish_reason) for g in batch] == [
        (g.text, g.finish_reason) for g in singles
    ]
    reasons = {g.finish_reason for g in batch}
    assert {"stop", "length"} <= reasons, "rows should finish differently"
    assert batch[0].text == reference[0][: reference[0].index(stop)]


def test_small_batches_give_the_same_results(lively_uncached, source_text):
    params = SamplingParams(max_new_tokens=8)
    whole = lively_uncached.generate_batch(prompts(source_text), params)
    pairs = lively_uncached.generate_batch(prompts(source_text), params, batch_size=2)
    assert [g.token_ids for g in whole] == [g.token_ids for g in pairs]


def test_chat_batch_equals_chat_one_by_one(lively_uncached):
    conversations = [
        [{"role": "user", "content": "Write a function that adds two numbers."}],
        [{"role": "user", "content": "Reverse a list."}],
        [{"role": "user", "content": "x"}],
    ]
    params = SamplingParams(max_new_tokens=12, min_new_tokens=12)
    batch = lively_uncached.chat_batch(conversations, params, system_prompt="Be brief.")
    singles = [lively_uncached.chat(c, params, system_prompt="Be brief.") for c in conversations]
    assert [g.token_ids for g in batch] == [g.token_ids for g in singles]
    assert len({g.token_ids for g in batch}) == len(batch)  # really different rows
