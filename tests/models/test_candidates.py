"""Several candidates from one prefill (``CodeModel.generate_candidates``), local and remote."""

from __future__ import annotations

import pytest

from models import SamplingParams, fim_prompt
from models.candidates import CANDIDATE_TEMPERATURE, candidate_params
from models.errors import InvalidRequestError


class ForwardLog:
    """Wraps a runtime's forward and records the shape of every input: [rows, tokens]."""

    def __init__(self, model) -> None:
        self.runtime = model._runtime
        self.inner = self.runtime.forward
        self.shapes: list[tuple[int, int]] = []

    def __enter__(self) -> ForwardLog:
        def forward(input_ids, *args):
            self.shapes.append(tuple(input_ids.shape))
            return self.inner(input_ids, *args)

        self.runtime.forward = forward
        return self

    def __exit__(self, *exc) -> None:
        self.runtime.forward = self.inner


def test_candidates_share_one_prefill_and_the_first_is_the_greedy_completion(lively, source_text):
    prompt = fim_prompt(source_text[:1500], source_text[1500:1700])
    params = SamplingParams(max_new_tokens=24, min_new_tokens=24)
    lively.clear_prefix_cache()
    greedy = lively.generate(prompt, params)
    lively.clear_prefix_cache()
    with ForwardLog(lively) as log:
        candidates = lively.generate_candidates(prompt, params, 4)
    assert len(candidates) == 4
    assert candidates[0].text == greedy.text and candidates[0].token_ids == greedy.token_ids
    assert len({c.token_ids for c in candidates}) == 4, "sampled candidates should differ"
    prompt_tokens = candidates[0].prompt_tokens
    prefilled = sum(tokens for rows, tokens in log.shapes if rows == 1)
    assert prefilled == prompt_tokens  # the prompt went through the model once
    assert [rows for rows, tokens in log.shapes if rows > 1] == [4] * 23
    assert all(tokens == 1 for rows, tokens in log.shapes if rows > 1)
    assert candidates[0].cached_tokens == 0
    assert all(c.cached_tokens == prompt_tokens for c in candidates[1:])
    assert all(c.new_tokens == 24 and c.finish_reason == "length" for c in candidates)


def test_the_prompt_stays_in_the_prefix_cache_for_the_next_request(lively, source_text):
    prompt = fim_prompt(source_text[:1000], source_text[1000:1100])
    params = SamplingParams(max_new_tokens=8)
    lively.clear_prefix_cache()
    lively.generate_candidates(prompt, params, 2)
    again = lively.generate(prompt, params)
    assert again.cached_tokens == again.prompt_tokens - 1  # all but the last token reused


def test_finished_rows_leave_and_the_rest_go_on(lively, source_text):
    prompt = fim_prompt(source_text[:600], "")
    stop_after = 5

    def stop_check(text: str) -> bool:  # ends each row at its 5th character or later
        return len(text) >= stop_after

    candidates = lively.generate_candidates(
        prompt, SamplingParams(max_new_tokens=30, seed=7), 3, stop_check=stop_check
    )
    assert all(c.finish_reason in ("stop", "eos") for c in candidates)
    assert all(c.finish_reason == "eos" or len(c.text) >= stop_after for c in candidates)


def test_one_candidate_is_plain_generate_and_none_is_refused(lively):
    params = SamplingParams(max_new_tokens=6)
    lively.clear_prefix_cache()
    (single,) = lively.generate_candidates("def f():", params, 1)
    lively.clear_prefix_cache()
    assert single.token_ids == lively.generate("def f():", params).token_ids
    with pytest.raises(InvalidRequestError):
        lively.generate_candidates("def f():", params, 0)


def test_extra_candidates_sample_each_from_its_own_seed():
    greedy = SamplingParams(seed=11)
    assert candidate_params(greedy, 0) is greedy
    second, third = candidate_params(greedy, 1), candidate_params(greedy, 2)
    assert second.temperature == CANDIDATE_TEMPERATURE and (second.seed, third.seed) == (12, 13)
    warm = SamplingParams(temperature=0.3)
    assert candidate_params(warm, 1).temperature == 0.3 and candidate_params(warm, 1).seed is None


def test_remote_candidates_are_concurrent_requests_the_first_as_asked(test_server):
    from models import load_model

    model = load_model("test-model", backend="remote", remote_base_url=test_server.base_url)
    candidates = model.generate_candidates("p", SamplingParams(max_new_tokens=16, seed=5), 3)
    assert len(candidates) == 3
    bodies = test_server.bodies("/v1/completions")
    assert sorted((b["temperature"], b["seed"]) for b in bodies) == [
        (0.0, 5),
        (CANDIDATE_TEMPERATURE, 6),
        (CANDIDATE_TEMPERATURE, 7),
    ]
