"""Generation on a real (tiny, RANDOM-WEIGHT) model: stops, streaming, cancellation, limits."""

from __future__ import annotations

import threading
import time

import pytest

from models import CancelToken, SamplingParams, fim_prompt, load_model
from models.errors import InvalidRequestError
from models.tokens import QWEN_SPECIAL_TOKENS

LONG = SamplingParams(max_new_tokens=2048, min_new_tokens=2048)


def test_greedy_is_deterministic_and_streams_its_text(lively, source_text):
    pieces: list[str] = []
    prompt = fim_prompt(source_text[:1500], source_text[1500:1700])
    params = SamplingParams(max_new_tokens=40, min_new_tokens=40)
    first = lively.generate(prompt, params, on_text=pieces.append)
    lively.clear_prefix_cache()
    second = lively.generate(prompt, params)
    assert first.token_ids == second.token_ids and first.text == second.text
    assert len(set(first.token_ids)) > 10, "the lively model should not repeat one token"
    assert first.finish_reason == "length" and first.new_tokens == 40
    assert "".join(pieces) == first.text and len(pieces) > 5
    assert first.prompt_tokens == len(lively.encode(prompt))


def test_stop_string_ends_the_text_before_it(lively, source_text):
    prompt = fim_prompt(source_text[:800], "")
    params = SamplingParams(max_new_tokens=60, min_new_tokens=60)
    full = lively.generate(prompt, params).text
    cut = len(full) // 2
    stop = full[cut : cut + 4]
    expected = full[: full.index(stop)]
    pieces: list[str] = []
    stopped = lively.generate(
        prompt,
        SamplingParams(max_new_tokens=60, min_new_tokens=60, stop=(stop,)),
        on_text=pieces.append,
    )
    assert stopped.finish_reason == "stop"
    assert stopped.text == expected and stop not in stopped.text
    assert "".join(pieces) == expected  # nothing of the stop string was streamed


def test_stops_on_every_qwen_special_token(lively_model_dir):
    """Make each special token the top choice in turn: generation ends, and it is not text."""
    import torch

    model = load_model(lively_model_dir, dtype="float32", prefix_cache=False)
    hf = model.hf_model
    prompt = "def main():\n    "
    ids = torch.tensor([model.encode(prompt)])
    with torch.inference_mode():
        hidden = hf.model(input_ids=ids).last_hidden_state[0, -1]  # [hidden]
    embeddings = hf.get_output_embeddings().weight  # tied with the input embeddings
    for token in QWEN_SPECIAL_TOKENS:
        tid = model.codec.special_ids[token]
        saved = embeddings.data[tid].clone()
        with torch.no_grad():
            embeddings.data[tid] = hidden * (1000.0 / hidden.norm() ** 2)
        try:
            generation = model.generate(prompt, SamplingParams(max_new_tokens=8))
            # min_new_tokens keeps the special tokens out of reach until that many are made.
            forced = model.generate(prompt, SamplingParams(max_new_tokens=6, min_new_tokens=6))
        finally:
            with torch.no_grad():
                embeddings.data[tid] = saved
        assert generation.finish_reason == "eos", token
        assert generation.text == "" and generation.new_tokens == 0, token
        assert forced.new_tokens == 6 and tid not in forced.token_ids, token
        assert not any(t in forced.text for t in QWEN_SPECIAL_TOKENS)


def test_stop_check_ends_the_completion_early(lively, source_text):
    seen: list[str] = []

    def enough(text: str) -> bool:
        seen.append(text)
        return len(text) >= 12

    generation = lively.generate(source_text[:300], LONG, stop_check=enough)
    assert generation.finish_reason == "stop"
    assert len(generation.text) >= 12 and generation.new_tokens < 40
    assert seen[-1] == generation.text


def test_cancel_before_start_returns_at_once(lively):
    token = CancelToken()
    token.cancel()
    started = time.monotonic()
    generation = lively.generate("def f():", LONG, cancel=token)
    assert generation.finish_reason == "cancelled" and generation.text == ""
    assert time.monotonic() - started < 0.5
    batch = lively.generate_batch(["a", "b"], LONG, cancel=token)
    assert [g.finish_reason for g in batch] == ["cancelled", "cancelled"]


def test_cancel_from_another_thread_returns_what_it_had(lively):
    token = CancelToken()
    streaming = threading.Event()
    results = []

    def run() -> None:
        results.append(
            lively.generate("def f():", LONG, cancel=token, on_text=lambda _: streaming.set())
        )

    worker = threading.Thread(target=run)
    worker.start()
    assert streaming.wait(30), "no text arrived"
    token.cancel()
    worker.join(10)
    assert not worker.is_alive(), "a cancelled generation kept running"
    (generation,) = results
    assert generation.finish_reason == "cancelled"
    assert 0 < generation.new_tokens < 2048 and generation.text


def test_a_call_waiting_for_the_model_can_be_cancelled(lively):
    first_token = CancelToken()
    second_token = CancelToken()
    busy = threading.Event()
    results: dict[str, object] = {}

    def long_call() -> None:
        results["long"] = lively.generate(
            "a", LONG, cancel=first_token, on_text=lambda _: busy.set()
        )

    holder = threading.Thread(target=long_call)
    holder.start()
    assert busy.wait(30)
    threading.Timer(0.2, second_token.cancel).start()
    started = time.monotonic()
    waiting = lively.generate("b", SamplingParams(max_new_tokens=4), cancel=second_token)
    waited = time.monotonic() - started
    first_token.cancel()
    holder.join(10)
    assert waiting.finish_reason == "cancelled" and waiting.new_tokens == 0
    assert waited < 5, "the waiting call did not notice its cancel"


def test_time_limit_stops_generation(lively):
    started = time.monotonic()
    generation = lively.generate(
        "def f():", SamplingParams(max_new_tokens=2048, min_new_tokens=2048, time_limit_s=0.3)
    )
    assert generation.finish_reason == "time"
    assert generation.new_tokens < 2048
    assert time.monotonic() - started < 5


def test_prompt_beyond_the_context_window_keeps_the_text_at_the_cursor(
    lively_model_dir, source_text
):
    model = load_model(lively_model_dir, dtype="float32", context_window=256)
    prefix, suffix = source_text[:6000], source_text[6000:9000]
    params = SamplingParams(max_new_tokens=16)
    generation = model.generate(fim_prompt(prefix, suffix), params)
    assert generation.prompt_tokens == 256 - 16
    ids, cut = model.codec.fit(fim_prompt(prefix, suffix), 256 - 16)
    assert cut
    marks = model.codec.special_ids
    split = ids.index(marks["<|fim_suffix|>"])
    assert ids[0] == marks["<|fim_prefix|>"] and ids[-1] == marks["<|fim_middle|>"]
    kept_prefix = model.codec.decode(ids[1:split])
    kept_suffix = model.codec.decode(ids[split + 1 : -1])
    assert prefix.endswith(kept_prefix) and len(kept_prefix) > 200
    assert suffix.startswith(kept_suffix) and len(kept_suffix) > 50
    plain = model.generate(source_text, params)  # not FIM: the start goes
    assert plain.prompt_tokens == 256 - 16


def test_bad_requests_give_clear_errors(lively, lively_model_dir):
    with pytest.raises(InvalidRequestError, match="max_new_tokens"):
        SamplingParams(max_new_tokens=4096)
    with pytest.raises(InvalidRequestError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(InvalidRequestError, match="stop"):
        SamplingParams(stop=("",))
    small = load_model(lively_model_dir, dtype="float32", context_window=64)
    with pytest.raises(InvalidRequestError, match="no room"):
        small.generate("x", SamplingParams(max_new_tokens=64))


def test_text_that_is_not_valid_unicode_still_completes(lively):
    broken = 'name = "\udcff\ud800"\n'  # lone surrogates, as surrogateescape or JSON make them
    assert lively.count_tokens(broken) == lively.count_tokens(
        broken.replace("\udcff", "\ufffd").replace("\ud800", "\ufffd")
    )
    generation = lively.generate(fim_prompt(broken, ""), SamplingParams(max_new_tokens=3))
    assert generation.prompt_tokens > 3 and generation.finish_reason in ("eos", "length")


def test_empty_prompts_give_a_sensible_result(lively):
    empty_fim = lively.generate(fim_prompt("", ""), SamplingParams(max_new_tokens=5))
    assert empty_fim.prompt_tokens == 3 and empty_fim.finish_reason in ("eos", "length")
    empty_text = lively.generate("", SamplingParams(max_new_tokens=5))
    assert empty_text.prompt_tokens == 1  # a document start to predict from


def test_sampling_is_reproducible_with_a_seed(lively):
    def sample(seed: int) -> tuple[int, ...]:
        params = SamplingParams(
            max_new_tokens=20, min_new_tokens=20, temperature=1.0, top_p=0.9, seed=seed
        )
        return lively.generate("import os\n", params).token_ids

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)
