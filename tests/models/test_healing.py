"""Token healing: the prompt stops one token short of the cursor, and decoding may only pick
tokens that write that token's characters again."""

from __future__ import annotations

from models.healing import HealIndex, remaining, split_heal


def test_the_last_token_of_a_line_is_healed_and_a_line_start_is_not(smoke_model_dir):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(smoke_model_dir / "tokenizer.json"))

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False).ids

    def decode(token_id: int) -> str:
        return tokenizer.decode([token_id])

    for prefix in ("def f(x):\n        ", "    value = compute(", "total = sel"):
        kept, healed = split_heal(prefix, encode, decode)
        assert healed and kept + healed == prefix
        assert decode(encode(prefix)[-1]) == healed  # exactly the last token
    assert split_heal("x = 1\n", encode, decode) == ("x = 1\n", "")
    assert split_heal("", encode, decode) == ("", "")


# Split as a byte-level BPE with Qwen2's regex splits code: runs of spaces alone, a space
# joined to the word after it.
VOCAB = ["\n", " ", "  ", "   ", "    ", "     ", " self", " return", "self", "sel", "se", "x"]


def _texts(index: HealIndex, rest: str) -> list[str]:
    return sorted(VOCAB[i] for i in index.allowed(rest))


def test_indentation_ends_only_inside_a_token_that_goes_on_with_code():
    index = HealIndex.build(VOCAB)
    # Shorter runs of blanks, never the whole run alone (text never has it before code) nor a
    # longer one (more indentation than the person has).
    assert _texts(index, "    ") == [" ", "  ", "   "]
    assert _texts(index, " ") == [" return", " self"]


def test_a_partial_word_allows_its_starts_and_its_completions():
    index = HealIndex.build(VOCAB)
    assert _texts(index, "sel") == ["se", "sel", "self"]
    assert index.allowed("q") == []


def test_excluded_ids_and_broken_characters_never_heal():
    index = HealIndex.build(["a", "ab", "a\ufffd", "abc"], excluded=frozenset({1}))
    assert index.allowed("a") == [0, 3]


def test_what_remains_after_each_pick():
    assert remaining("    ", "   ") == " "
    assert remaining(" ", " self") == ""
    assert remaining("sel", "se") == "l"


def test_a_healed_generation_writes_the_cut_token_again_and_returns_only_what_follows(
    smoke_model_dir,
):
    from models import SamplingParams, load_model
    from models.prompts import InfillContext, build_infill_prompt

    model = load_model(smoke_model_dir, device="cpu")
    try:
        prefix = "def area(radius):\n    result = radius\n    "
        assert not build_infill_prompt(model, InfillContext(prefix, "\n"), 200).heal  # off
        infill = build_infill_prompt(model, InfillContext(prefix, "\n"), 200, heal=True)
        assert infill.heal and prefix.endswith(infill.heal)
        assert not infill.prompt.text.split("<|fim_suffix|>")[0].endswith(infill.heal)
        for temperature in (0.0, 1.0):
            params = SamplingParams(max_new_tokens=12, temperature=temperature, seed=7)
            healed = SamplingParams(**{**params.__dict__, "heal": infill.heal})
            result = model.generate(infill.prompt, healed)
            written = model.codec.decode(result.token_ids)
            assert written == infill.heal + result.text
            # Blanks end inside a token that goes on with code: never more indentation.
            assert not result.text[:1].isspace()
        [first, *_] = model.generate_candidates(infill.prompt, healed, 3)
        assert model.codec.decode(first.token_ids).startswith(infill.heal)
    finally:
        model.close()
