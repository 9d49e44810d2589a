"""Byte-level BPE tokenizers in Qwen2.5-Coder's image, trained here on Python source.

One builder for every tokenizer the project makes itself: the smoke model's (``models.smoke``)
and the pretrained small model's (``evolution.pretrain``). Each carries every Qwen2.5-Coder
special token as one token and Qwen's ChatML chat template, so prompts are built exactly as
for the real models.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from models.tokens import ENDOFTEXT, QWEN_SPECIAL_TOKENS

# The chat template of Qwen2.5-Coder-Instruct, without tool calling.
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. "
    "You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Qwen2Tokenizer replaces the saved pre-tokenizer with this regex on load, so the BPE is
# trained with it too; otherwise the tokenizer would change between save and load.
QWEN_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def train_bpe(
    texts: Iterable[str],
    vocab_size: int,
    *,
    model_max_length: int = 32768,
    show_progress: bool = False,
) -> Any:
    """Train a byte-level BPE on ``texts``; return it as a transformers fast tokenizer.

    The special tokens take the first ids (``<|endoftext|>`` is 0) in Qwen's order.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(QWEN_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=show_progress,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=ENDOFTEXT,
        pad_token=ENDOFTEXT,
        extra_special_tokens=list(QWEN_SPECIAL_TOKENS[1:]),
        chat_template=CHATML_TEMPLATE,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )
