"""Prompt-lookup speculative decoding: the n-gram drafter, and greedy output identical to plain
decoding through stops, limits, cancellation and prefix reuse.

The lively model has RANDOM WEIGHTS: its own output rarely repeats the prompt, so real drafts
are mostly rejected. An oracle drafter that proposes plain decoding's own continuation with
some tokens spoiled makes drafts partly right at every position, which exercises acceptance,
rejection and the cache crop. Most tests check every draft (``adaptive=False``); the governor
that decides where checking pays is tested with fixed costs.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from models import CancelToken, SamplingParams, fim_prompt
from models.errors import InvalidRequestError
from models.local import LocalModel
from models.speculation import DraftGovernor, NgramDrafter, Speculation
from models.types import Generation

SPEC = Speculation(max_draft=5, min_ngram=1, adaptive=False)  # every draft found is checked

# -- the drafter on plain lists ---------------------------------------------------------------


def drafter(
    tokens: Sequence[int], max_draft: int = 8, max_ngram: int = 3, min_ngram: int = 1
) -> NgramDrafter:
    return NgramDrafter(tokens, Speculation(max_draft, max_ngram, min_ngram))


def test_drafts_what_followed_the_last_match():
    assert drafter([1, 2, 3, 4, 5, 9, 2, 3]).draft(3) == [4, 5, 9]
    assert drafter([1, 2, 3, 4, 5, 9, 2, 3], max_draft=2).draft(3) == [4, 5]
    assert drafter([1, 2, 3, 4, 5, 9, 2, 3]).draft(1) == [4]
    assert drafter([1, 2, 3, 4]).draft(3) == []  # nothing repeats
    assert drafter([7]).draft(3) == [] and drafter([]).draft(3) == []
    assert drafter([1, 2, 1]).draft(0) == []


def test_the_longest_ngram_wins_then_the_most_recent():
    # "2 3" followed by 7 long ago; "3" alone followed by 8 more recently
    tokens = [2, 3, 7, 0, 3, 8, 0, 2, 3]
    assert drafter(tokens).draft(1) == [7]
    assert drafter(tokens, max_ngram=1).draft(1) == [8]
    assert drafter(tokens, min_ngram=3).draft(1) == []  # "0 2 3" never occurred before
    assert drafter([5, 1, 6, 1, 7, 1]).draft(2) == [7, 1]  # the last of equal matches


def test_a_run_is_drafted_at_full_length():
    assert drafter([4, 5, 5, 5]).draft(6) == [5] * 6
    assert drafter([1, 2, 1, 2]).draft(5) == [1, 2, 1, 2, 1]


def test_packed_bytes_never_match_across_token_boundaries():
    # 65536 then 0 packs to bytes that contain 256's bytes at an odd offset (little endian)
    tokens = [256, 42, 65536, 0, 256]
    assert drafter(tokens, max_ngram=1).draft(2) == [42, 65536]
    assert drafter([65536, 0, 256], max_ngram=1).draft(2) == []


def test_the_drafter_follows_generated_tokens():
    d = drafter([1, 2, 3])
    generated = [9, 1, 2]
    d.sync(generated, start=3)
    assert len(d) == 6 and d.draft(2) == [3, 9]
    d.sync(generated, start=3)  # nothing new
    assert len(d) == 6


def test_bad_settings_are_refused():
    with pytest.raises(InvalidRequestError, match="max_draft"):
        Speculation(max_draft=0)
    with pytest.raises(InvalidRequestError, match="min_ngram"):
        Speculation(max_ngram=1, min_ngram=2)
    assert Generation("", "eos").draft_tokens == 0  # other backends need not count drafts


def test_the_governor_checks_drafts_where_they_pay():
    governor = DraftGovernor(smoothing=0.5)
    assert governor.worth(8)  # nothing measured yet: check, and learn
    governor.timed(1, 0.1)
    governor.timed(9, 0.3)  # a 9-token forward costs three 1-token ones (a CPU)
    governor.scored(0)
    assert not governor.worth(8)  # one token for the price of three
    assert governor.worth(2)  # a 3-token forward was never timed
    governor.scored(8)  # 4 agreed after smoothing: five tokens for the price of three
    assert governor.worth(8)
    governor.scored(0)
    governor.timed(9, 0.1)
    governor.timed(9, 0.1)  # as cheap as one token (a GPU): even a poor draft costs nothing
    assert governor.worth(8)


# -- through the runtime ------------------------------------------------------------------------


def runtime(lively, speculation: Speculation | None, *, prefix_cache: bool = False) -> LocalModel:
    return LocalModel(
        lively.engine,
        lively.tokenizer,
        lively.info,
        prefix_cache=prefix_cache,
        speculation=speculation,
    )


@pytest.fixture(scope="module")
def plain(lively):
    return runtime(lively, None)


@pytest.fixture(scope="module")
def spec(lively):
    return runtime(lively, SPEC)


@pytest.fixture
def oracle(monkeypatch):
    """Drafts ``oracle.reference`` (plain decoding's tokens) with a token spoiled at a place
    that moves every step, so the agreeing run has every length from none to all."""

    class Oracle(NgramDrafter):
        reference: tuple[int, ...] = ()
        steps = 0
        spoil = True

        def __init__(self, tokens: Sequence[int], spec: Speculation) -> None:
            super().__init__(tokens, spec)
            self.prompt_len = len(tokens)

        def draft(self, limit: int) -> list[int]:
            done = len(self) - self.prompt_len
            out = list(self.reference[done : done + min(limit, self._spec.max_draft)])
            Oracle.steps += 1
            spoil = Oracle.steps % (self._spec.max_draft + 2)
            if Oracle.spoil and spoil < len(out):
                out[spoil] = (out[spoil] + 1) % 4000
            return out

    monkeypatch.setattr("models.decode_steps.NgramDrafter", Oracle)
    return Oracle


def repetitive_prompt(source_text: str, start: int) -> str:
    """Source that repeats: an earlier block comes again, as when a line is re-typed."""
    block = source_text[start : start + 700]
    return block + "\n\n" + block[:350]


def same(a: Generation, b: Generation) -> bool:
    return (a.token_ids, a.text, a.finish_reason) == (b.token_ids, b.text, b.finish_reason)


@pytest.mark.parametrize("max_new", [1, 2, 3, 7, 16, 41])
def test_greedy_output_is_identical_with_real_drafts(plain, spec, source_text, max_new):
    params = SamplingParams(max_new_tokens=max_new, min_new_tokens=max_new)
    drafted = 0
    for start in range(0, 4000, 500):
        prompt = repetitive_prompt(source_text, start)
        got, want = spec.generate(prompt, params), plain.generate(prompt, params)
        assert same(got, want), start
        assert want.draft_tokens == 0 and got.accepted_draft_tokens <= got.draft_tokens
        drafted += got.draft_tokens
    assert drafted > 0 or max_new <= 3  # short outputs leave little to match or to draft


@pytest.mark.parametrize("max_new", [2, 6, 7, 30])
def test_greedy_output_is_identical_with_partly_right_drafts(
    plain, spec, oracle, source_text, max_new
):
    params = SamplingParams(max_new_tokens=max_new, min_new_tokens=max_new)
    drafted = accepted = 0
    for start in (0, 900, 2100):
        prompt = fim_prompt(
            source_text[start : start + 600], source_text[start + 600 : start + 700]
        )
        want = plain.generate(prompt, params)
        oracle.reference = want.token_ids
        got = spec.generate(prompt, params)
        assert same(got, want), start
        drafted, accepted = drafted + got.draft_tokens, accepted + got.accepted_draft_tokens
    assert 0 < accepted < drafted or max_new == 2


@pytest.mark.parametrize("drafts", ["real", "oracle"])
def test_a_stop_token_ends_the_output_as_without_drafts(lively, request, source_text, drafts):
    plain, spec = runtime(lively, None), runtime(lively, SPEC)
    prompt = repetitive_prompt(source_text, 300)
    reference = plain.generate(prompt, SamplingParams(max_new_tokens=30, min_new_tokens=30))
    tokens = reference.token_ids
    stop_at = next(i for i in range(8, 30) if tokens[i] not in tokens[:i])
    for model in (plain, spec):  # one of the generated tokens becomes an end-of-text token
        model.codec.stop_ids = model.codec.stop_ids | {tokens[stop_at]}
    if drafts == "oracle":
        request.getfixturevalue("oracle").reference = tokens
    params = SamplingParams(max_new_tokens=30)
    got, want = spec.generate(prompt, params), plain.generate(prompt, params)
    assert want.finish_reason == "eos" and want.new_tokens == stop_at
    assert same(got, want)


def test_stop_strings_and_stop_check_stream_the_same_pieces(plain, spec, oracle, source_text):
    prompt = repetitive_prompt(source_text, 1200)
    full = plain.generate(prompt, SamplingParams(max_new_tokens=40, min_new_tokens=40))
    oracle.reference = full.token_ids
    stop = full.text[len(full.text) // 2 :][:3]
    params = SamplingParams(max_new_tokens=40, min_new_tokens=40, stop=(stop,))
    seen: dict[str, list[str]] = {"plain": [], "spec": []}
    want = plain.generate(prompt, params, on_text=seen["plain"].append)
    got = spec.generate(prompt, params, on_text=seen["spec"].append)
    assert want.finish_reason == "stop" and same(got, want)
    assert seen["spec"] == seen["plain"] and "".join(seen["spec"]) == want.text

    def check(text: str) -> bool:
        return len(text) >= len(full.text) // 3

    want = plain.generate(prompt, SamplingParams(max_new_tokens=40), stop_check=check)
    got = spec.generate(prompt, SamplingParams(max_new_tokens=40), stop_check=check)
    assert want.finish_reason == "stop" and want.new_tokens < 40 and same(got, want)


def test_the_cache_after_speculation_serves_the_next_request(lively, plain, oracle, source_text):
    cached = runtime(lively, SPEC, prefix_cache=True)
    text = source_text[:1500]
    params = SamplingParams(max_new_tokens=24, min_new_tokens=24)
    requests = [text[:1200], text[:1201], text[:1201] + "\n", text[:900], text[:1300]]
    for i, prompt in enumerate(requests):
        want = plain.generate(prompt, params)
        oracle.reference = want.token_ids
        got = cached.generate(prompt, params)
        assert same(got, want), i
        held = cached._prefix  # holds exactly the prompt and all but the last new token
        assert held._cache.get_seq_length() == held.held_tokens == got.prompt_tokens + 23
        assert i == 0 or got.cached_tokens > 0
    continued = cached.encode(requests[-1]) + list(got.token_ids)
    again = cached.generate(continued, params)
    assert again.cached_tokens == len(continued) - 1
    assert same(again, plain.generate(continued, params))


@pytest.mark.parametrize("after", [1, 4, 9])
def test_cancelling_mid_draft_stops_where_plain_decoding_stops(
    lively, plain, oracle, source_text, after
):
    cached = runtime(lively, SPEC, prefix_cache=True)
    prompt = source_text[2000:2600]
    params = SamplingParams(max_new_tokens=30, min_new_tokens=30)
    oracle.reference = plain.generate(prompt, params).token_ids

    def run(model: LocalModel) -> Generation:
        cancel = CancelToken()
        count = [0]

        def on_text(_piece: str) -> None:
            count[0] += 1
            if count[0] == after:
                cancel.cancel()

        return model.generate(prompt, params, cancel=cancel, on_text=on_text)

    got, want = run(cached), run(plain)
    assert want.finish_reason == "cancelled" and same(got, want)
    assert got.draft_tokens > got.accepted_draft_tokens > 0 or after == 1
    after_cancel = cached.generate(prompt, params)  # from the cache the cancel left
    assert after_cancel.cached_tokens > 0
    assert after_cancel.token_ids == oracle.reference


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sampling_draws_the_same_tokens_from_the_same_seed(plain, spec, oracle, source_text, seed):
    prompt = repetitive_prompt(source_text, 100 * seed)
    params = SamplingParams(
        max_new_tokens=30, min_new_tokens=30, temperature=0.8, top_p=0.95, seed=seed
    )
    want = plain.generate(prompt, params)
    oracle.reference = want.token_ids
    got = spec.generate(prompt, params)
    assert same(got, want)
    assert 0 < got.accepted_draft_tokens < got.draft_tokens


class FixedCosts(DraftGovernor):
    """A machine where a forward of T tokens always costs ``1 + (T - 1) * per_token``."""

    def __init__(self, per_token: float) -> None:
        super().__init__()
        self._seconds = {t: 1 + (t - 1) * per_token for t in range(1, 64)}

    def timed(self, fed: int, seconds: float) -> None:
        pass


def test_checking_stops_where_drafts_fail_and_resumes_where_they_agree(
    lively, plain, oracle, source_text
):
    model = runtime(lively, Speculation(max_draft=5))  # adaptive
    model._governor = governor = FixedCosts(per_token=0.4)  # 6 tokens cost 3: pays from 2 agreed
    params = SamplingParams(max_new_tokens=30, min_new_tokens=30)
    prompt = source_text[500:1100]
    want = plain.generate(prompt, params)

    oracle.reference, oracle.spoil = tuple(t + 1 for t in want.token_ids), False  # all wrong
    got = model.generate(prompt, params)
    assert same(got, want)
    assert got.draft_tokens == 5 and got.accepted_draft_tokens == 0  # the first draft only
    assert not governor.worth(5)

    oracle.reference = want.token_ids  # now every draft is right: unchecked ones say so
    got = model.generate(prompt, params)
    assert same(got, want)
    assert got.accepted_draft_tokens == got.draft_tokens >= 15
