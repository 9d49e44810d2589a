"""Incremental decoding and stop strings split across pieces."""

from __future__ import annotations

from models.textstream import IncrementalDecoder, StopStrings


def test_incremental_decoding_never_splits_a_character(smoke_model_dir):
    from transformers import AutoTokenizer

    from models.encoding import Codec

    codec = Codec(AutoTokenizer.from_pretrained(smoke_model_dir))
    text = "def grüße():\n    return '你好 ✓ café' \U0001f600\n"
    ids = codec.encode_literal(text)
    assert len(ids) > len(text) // 4  # non-ASCII falls apart into byte-level tokens
    decoder = IncrementalDecoder(codec.decode)
    pieces = [decoder.push(i) for i in ids]
    pieces.append(decoder.flush())
    assert "".join(pieces) == text
    assert not any("\ufffd" in p for p in pieces)
    assert "" in pieces  # some tokens ended mid-character and were held back


def test_stop_string_split_across_pieces_is_cut_and_never_released():
    stops = StopStrings(["</stop>", "\n\n\n"])
    released = [stops.feed(p) for p in ["ab", "c<", "/st", "op>rest"]]
    assert stops.stopped and stops.text == "abc"
    assert "".join(released) == "abc"
    assert released[1] == "c"  # "<" waits: it may start the stop string
    assert stops.feed("more") == ""


def test_held_back_text_is_released_when_no_stop_follows():
    stops = StopStrings(["</stop>"])
    assert stops.feed("x</s") == "x"
    assert stops.feed("ection") == "</section"
    assert stops.feed("</st") == ""
    assert stops.finish() == "</st"
    assert not stops.stopped and stops.text == "x</section</st"


def test_the_earliest_of_several_stops_wins():
    stops = StopStrings(["BBB", "A"])
    stops.feed("xxBBBxA")
    assert stops.text == "xx"


def test_no_stop_strings_releases_everything_at_once():
    stops = StopStrings([])
    assert stops.feed("abc") == "abc" and stops.finish() == ""
