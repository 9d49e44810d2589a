"""The time box (``SamplingParams.time_box_s``): once it closes, a completion ends at a line end.

``StopStrings`` is tested with the box closing at chosen points; the decode loops (local and
remote) with a box so short that it has closed before the first token, which makes the
expected text exact: everything up to the first line break after some text.
"""

from __future__ import annotations

import pytest

from models import SamplingParams, fim_prompt
from models.errors import InvalidRequestError
from models.textstream import StopStrings

TINY_BOX_S = 1e-6  # closed before any token: the completion ends after its first line


def fed(pieces: list[str], *, box_after: int, stops: tuple[str, ...] = ()) -> StopStrings:
    """Feed ``pieces``, closing the box before piece ``box_after``; check what was shown."""
    stream = StopStrings(stops)
    shown = []
    for index, piece in enumerate(pieces):
        if index == box_after:
            shown.append(stream.end_at_line_end())
        if stream.stopped:
            break
        shown.append(stream.feed(piece))
    if not stream.stopped:
        shown.append(stream.finish())
    assert "".join(shown) == stream.text, "what was shown must be the text"
    return stream


def test_the_line_in_progress_is_finished_and_ends_the_text():
    stream = fed(["x = 1", "\ny", " = 2\nz = 3\n"], box_after=2)
    assert (stream.text, stream.boxed) == ("x = 1\ny = 2\n", True)


def test_the_rest_of_a_token_after_the_line_break_is_dropped():
    stream = fed(["a", "b\n    c", "d\n"], box_after=1)
    assert stream.text == "ab\n" and stream.boxed


def test_a_text_at_a_line_end_ends_as_it_is_when_the_box_closes():
    stream = fed(["return x\n", "    ", "more\n"], box_after=2)
    assert stream.text == "return x\n    " and stream.boxed


def test_blank_lines_before_any_text_do_not_end_it():
    stream = fed(["\n", "\n    ", "pass", "\n", "again\n"], box_after=0)
    assert stream.text == "\n\n    pass\n" and stream.boxed


def test_a_stop_string_before_the_line_end_wins_and_one_after_it_does_not():
    early = fed(["alpha STOP beta\n"], box_after=0, stops=("STOP",))
    assert (early.text, early.boxed, early.stopped) == ("alpha ", False, True)
    late = fed(["alpha\nbeta STOP"], box_after=0, stops=("STOP",))
    assert (late.text, late.boxed) == ("alpha\n", True)


def test_without_the_box_nothing_changes():
    stream = fed(["a\n", "b\n"], box_after=99)
    assert stream.text == "a\nb\n" and not stream.boxed


def test_the_box_must_be_positive():
    with pytest.raises(InvalidRequestError, match="time_box_s"):
        SamplingParams(time_box_s=0)


def first_line_end(text: str) -> int:
    """Index after the first line break that follows some text."""
    start = len(text) - len(text.lstrip())
    return text.index("\n", start) + 1


def test_local_generation_ends_after_its_first_line_when_the_box_is_closed(lively, source_text):
    prompt = fim_prompt(source_text[:1200], source_text[1200:1400])
    params = SamplingParams(max_new_tokens=200, min_new_tokens=200)
    full = lively.generate(prompt, params)
    assert full.text.strip().count("\n") >= 2, "the lively model should write several lines"
    pieces: list[str] = []
    boxed = lively.generate(
        prompt,
        SamplingParams(max_new_tokens=200, min_new_tokens=200, time_box_s=TINY_BOX_S),
        on_text=pieces.append,
    )
    assert boxed.finish_reason == "time-box"
    assert boxed.text == full.text[: first_line_end(full.text)]
    assert "".join(pieces) == boxed.text


def test_every_candidate_ends_at_a_line_end_when_the_box_is_closed(lively, source_text):
    prompt = fim_prompt(source_text[:1200], source_text[1200:1400])
    params = SamplingParams(max_new_tokens=200, min_new_tokens=200, time_box_s=TINY_BOX_S)
    candidates = lively.generate_candidates(prompt, params, 3)
    for candidate in candidates:
        if candidate.finish_reason == "time-box":
            assert candidate.text.endswith("\n") and candidate.text.strip()
            assert candidate.text.strip().count("\n") == 0
        else:  # a sampled row may run to the length cap without a line break
            assert candidate.finish_reason == "length" and "\n" not in candidate.text.strip()
    assert candidates[0].finish_reason == "time-box"


def test_remote_generation_applies_the_box_itself(test_server):
    from models import load_model

    test_server.add_rule(path="/v1/completions", text="first = 1\nsecond = 2\nthird = 3\n")
    model = load_model("test-model", backend="remote", remote_base_url=test_server.base_url)
    generation = model.generate("p", SamplingParams(max_new_tokens=64, time_box_s=TINY_BOX_S))
    assert (generation.text, generation.finish_reason) == ("first = 1\n", "time-box")
    plain = model.generate("p", SamplingParams(max_new_tokens=64))
    assert plain.text == "first = 1\nsecond = 2\nthird = 3\n"
