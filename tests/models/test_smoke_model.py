"""The smoke model loads back through the Auto classes, offline, with Qwen's special tokens."""

from __future__ import annotations

from models.smoke import QWEN_SPECIAL_TOKENS, is_smoke_model


def test_loads_offline_with_every_special_token(smoke_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smoke_model_dir)
    model = AutoModelForCausalLM.from_pretrained(smoke_model_dir)
    assert model.config.model_type == "qwen2"
    assert is_smoke_model(smoke_model_dir)
    for token in QWEN_SPECIAL_TOKENS:
        ids = tokenizer(token, add_special_tokens=False).input_ids
        assert len(ids) == 1, f"{token} is not one token: {ids}"
    text = "def add(a, b):\n    return a + b  # café ✓\n"
    assert tokenizer.decode(tokenizer(text).input_ids) == text


def test_chat_template_is_chatml(smoke_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smoke_model_dir)
    prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n" + (
        "<|im_start|>assistant\n"
    )
