"""FIM and repo-level formats, and the token-budgeted infill prompt."""

from __future__ import annotations

import random

import pytest

from models.errors import InvalidRequestError
from models.prompts import (
    InfillContext,
    build_infill_prompt,
    fim_prompt,
    prompt_tokens,
    repo_fim_prompt,
    trim_prompt,
)
from models.tokens import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, QWEN_SPECIAL_TOKENS


@pytest.fixture(scope="module")
def codec(smoke_model_dir):
    """The smoke model's real tokenizer (exact counts); no model weights needed."""
    from transformers import AutoTokenizer

    from models.encoding import Codec

    return Codec(AutoTokenizer.from_pretrained(smoke_model_dir))


class Counter:
    """A token counter (the smoke tokenizer) that records how many characters it was shown."""

    def __init__(self, codec):
        self.codec = codec
        self.chars = 0

    def count_tokens_batch(self, texts):
        self.chars += sum(len(t) for t in texts)
        return self.codec.count_batch(texts)


def test_file_level_fim_format_is_psm():
    assert (
        fim_prompt("def f(", "):\n").text == "<|fim_prefix|>def f(<|fim_suffix|>):\n<|fim_middle|>"
    )


def test_repo_level_format_with_real_names():
    prompt = repo_fim_prompt(
        "shop",
        [("lib/cart.py", "class Cart:\n    pass"), ("README.md", "# Shop\n")],
        "main.py",
        "from lib.cart import ",
        "\n",
    )
    assert prompt.text == (
        "<|repo_name|>shop\n"
        "<|file_sep|>lib/cart.py\nclass Cart:\n    pass\n"
        "<|file_sep|>README.md\n# Shop\n"
        "<|file_sep|>main.py\n"
        "<|fim_prefix|>from lib.cart import <|fim_suffix|>\n<|fim_middle|>"
    )


def test_special_token_text_in_user_code_stays_literal(codec):
    prefix = 'MARKER = "<|fim_prefix|>"\nEND = "<|endoftext|><|file_sep|>"\n'
    ids = codec.encode_prompt(fim_prompt(prefix, "<|fim_middle|>\n"))
    special_ids = {codec.special_ids[t] for t in QWEN_SPECIAL_TOKENS}
    # Only the three FIM tokens of the format itself are control tokens.
    assert [i for i in ids if i in special_ids] == [
        codec.special_ids[FIM_PREFIX],
        codec.special_ids[FIM_SUFFIX],
        codec.special_ids[FIM_MIDDLE],
    ]
    assert codec.decode(ids) == prefix + "<|fim_middle|>\n"  # nothing lost


def test_budget_is_exact_and_cuts_are_at_line_boundaries(codec, source_text):
    rng = random.Random(7)
    for _ in range(25):
        cursor = rng.randrange(len(source_text))
        prefix, suffix = source_text[:cursor], source_text[cursor:]
        budget = rng.choice([64, 200, 700, 1536])
        infill = build_infill_prompt(codec_model(codec), InfillContext(prefix, suffix), budget)
        assert infill.tokens == len(codec.encode_prompt(infill.prompt)) <= budget
        kept_prefix = prefix[infill.prefix_start :]
        kept_suffix = suffix[: infill.suffix_end]
        assert infill.prompt.text == fim_prompt(kept_prefix, kept_suffix).text
        line_start = prefix.rfind("\n") + 1
        if infill.prefix_start > 0 and infill.prefix_start <= line_start:
            assert prefix[infill.prefix_start - 1] == "\n"  # a whole-line cut
        if infill.suffix_end < len(suffix) and "\n" in suffix[: infill.suffix_end]:
            assert suffix[infill.suffix_end - 1] == "\n"
        # Next to the cursor nothing is cut (unless that one line alone is over budget).
        if infill.prefix_start <= line_start:
            assert kept_prefix.endswith(prefix[line_start:])


def test_prefix_gets_three_quarters_and_unused_share_moves(codec, source_text):
    middle = len(source_text) // 2
    ctx = InfillContext(source_text[:middle], source_text[middle:])
    infill = build_infill_prompt(codec_model(codec), ctx, 800)
    pre = codec.count(ctx.prefix[infill.prefix_start :])
    suf = codec.count(ctx.suffix[: infill.suffix_end])
    assert 2.4 < pre / suf < 3.4
    assert pre + suf > 800 - 3 - 40  # lines are whole, so a little is left unused

    short_suffix = build_infill_prompt(codec_model(codec), InfillContext(ctx.prefix, "\n"), 800)
    assert short_suffix.suffix_end == 1
    assert codec.count(ctx.prefix[short_suffix.prefix_start :]) > 700  # took the suffix's share


def test_other_files_fill_what_is_left_in_order(codec):
    files = [("a.py", "A = 1\n" * 5), ("big.py", "x = 2\n" * 3000), ("c.py", "C = 3\n")]
    ctx = InfillContext("import a\n", "\n", path="main.py", repo_name="demo", other_files=files)
    infill = build_infill_prompt(codec_model(codec), ctx, 300)
    assert infill.repo_level
    assert [f.path for f in infill.files] == ["a.py", "big.py", "c.py"][: len(infill.files)]
    assert infill.files[0].truncated is False
    assert any(f.truncated for f in infill.files) or "big.py" in infill.files_dropped
    assert infill.tokens <= 300
    text = infill.text
    assert text.index("a.py") < text.index("<|file_sep|>main.py\n<|fim_prefix|>import a\n")

    # Files that do not fit are dropped; a later, smaller one still gets in.
    squeezed = build_infill_prompt(codec_model(codec), ctx, 40)
    assert [f.path for f in squeezed.files] == ["c.py"]
    assert squeezed.files_dropped == ("a.py", "big.py")
    none_fit = build_infill_prompt(codec_model(codec), ctx, 20)
    assert none_fit.files == () and set(none_fit.files_dropped) == {"a.py", "big.py", "c.py"}
    assert none_fit.text.endswith("<|fim_prefix|>import a\n<|fim_suffix|>\n<|fim_middle|>")


def test_huge_document_is_not_tokenized_whole(codec):
    line = "    value = compute(value, 42)  # keep going\n"
    doc = line * (5_000_000 // len(line))  # 5 MB
    cursor = len(doc) // 2
    counter = Counter(codec)
    infill = build_infill_prompt(counter, InfillContext(doc[:cursor], doc[cursor:]), 1536)
    assert infill.tokens <= 1536
    assert counter.chars < 60_000, "the budget needs ~6,000 characters, not the whole file"


def test_single_overlong_line_at_cursor_is_cut_by_characters_at_its_far_end(codec):
    line = "x = [" + ", ".join(str(i) for i in range(5000))
    infill = build_infill_prompt(codec_model(codec), InfillContext(line, "]\n"), 100)
    assert infill.tokens <= 100
    kept = line[infill.prefix_start :]
    assert line.endswith(kept) and len(kept) > 20


def test_empty_prefix_and_suffix_give_the_bare_format(codec):
    infill = build_infill_prompt(codec_model(codec), InfillContext("", ""), 64)
    assert infill.text == "<|fim_prefix|><|fim_suffix|><|fim_middle|>"
    assert infill.tokens == 3


def test_plain_function_counter_and_bad_arguments():
    def words(text: str) -> int:
        return len(text.split())

    infill = build_infill_prompt(words, InfillContext("a b c\nd e\nf", "g h\ni j\n"), 8)
    assert infill.tokens <= 8
    with pytest.raises(InvalidRequestError):
        build_infill_prompt(words, InfillContext("a", "b"), 0)
    with pytest.raises(InvalidRequestError):
        build_infill_prompt(words, InfillContext("a", "b"), 10, prefix_share=1.5)
    with pytest.raises(InvalidRequestError, match="below"):
        build_infill_prompt(lambda t: 10, InfillContext("a", "b"), 2)


def test_trim_prompt_drops_files_then_far_lines(codec, source_text):
    files = [("other.py", source_text[:3000])]
    prompt = repo_fim_prompt("r", files, "m.py", source_text[:4000], source_text[4000:6000])
    trimmed = trim_prompt(prompt, 600, codec_model(codec))
    assert not isinstance(trimmed, str)
    assert prompt_tokens(trimmed, codec.count_batch) <= 600
    assert "other.py" not in trimmed.text
    kept_prefix = next(s.text for s in trimmed.segments if s.role == "prefix")
    kept_suffix = next(s.text for s in trimmed.segments if s.role == "suffix")
    assert source_text[:4000].endswith(kept_prefix) and kept_prefix
    assert source_text[4000:6000].startswith(kept_suffix) and kept_suffix


def codec_model(codec):
    """An object with the model's counting methods, backed by the codec."""

    class _Model:
        count_tokens = staticmethod(codec.count)
        count_tokens_batch = staticmethod(codec.count_batch)

    return _Model()
