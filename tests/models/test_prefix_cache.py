"""KV prefix reuse: greedy output identical to uncached generation, only the tail prefilled."""

from __future__ import annotations

from models import SamplingParams, fim_prompt
from models.prefix_cache import common_prefix_length

PARAMS = SamplingParams(max_new_tokens=24, min_new_tokens=24)


def test_common_prefix_length():
    assert common_prefix_length([], [1, 2]) == 0
    assert common_prefix_length([1, 2, 3], [1, 2, 3]) == 3
    assert common_prefix_length([1, 2, 3], [1, 2]) == 2
    assert common_prefix_length([1, 2, 3, 4], [1, 2, 9, 4]) == 2
    assert common_prefix_length([5], [6]) == 0
    long = list(range(10_000))
    assert common_prefix_length(long, [*long[:7777], -1, *long[7778:]]) == 7777


def test_cached_generation_equals_uncached_through_a_session_of_edits(
    lively, lively_uncached, source_text
):
    cursor = 2500
    text = source_text[: cursor + 600]
    edits = [
        ("first request", text[:cursor], text[cursor:]),
        ("type a character", text[: cursor + 1], text[cursor + 1 :]),
        ("type another", text[: cursor + 2], text[cursor + 2 :]),
        ("delete two", text[:cursor], text[cursor:]),
        ("change in the middle", text[:1000] + "#!" + text[1002:cursor], text[cursor:]),
        ("same prompt again", text[:1000] + "#!" + text[1002:cursor], text[cursor:]),
        ("unrelated prompt", "import sys\n", "\n"),
    ]
    lively.clear_prefix_cache()
    cached_counts = {}
    for name, prefix, suffix in edits:
        prompt = fim_prompt(prefix, suffix)
        cached = lively.generate(prompt, PARAMS)
        reference = lively_uncached.generate(prompt, PARAMS)
        assert reference.cached_tokens == 0
        assert cached.token_ids == reference.token_ids, name
        assert cached.text == reference.text, name
        cached_counts[name] = (cached.cached_tokens, cached.prompt_tokens)
    assert cached_counts["first request"][0] == 0
    for name in ("type a character", "type another", "delete two"):
        reused, total = cached_counts[name]
        assert reused > 0.5 * total, name  # the prefix before the cursor was reused
    middle, total = cached_counts["change in the middle"]
    assert 0 < middle < cached_counts["delete two"][0]
    assert cached_counts["same prompt again"][0] == total - 1  # only the last token re-run
    assert cached_counts["unrelated prompt"][0] < 5


def test_generated_tokens_stay_in_the_cache_for_a_continuation(lively, lively_uncached):
    lively.clear_prefix_cache()
    prompt = "def add(a, b):\n"
    first = lively.generate(prompt, PARAMS)
    continued = lively.encode(prompt) + list(first.token_ids)
    again = lively.generate(continued, PARAMS)
    assert again.cached_tokens >= len(continued) - 2
    assert again.token_ids == lively_uncached.generate(continued, PARAMS).token_ids
