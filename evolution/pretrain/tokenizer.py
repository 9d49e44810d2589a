"""The run's tokenizer: a byte-level BPE trained on the training files (never the held-out
ones), saved and read back exactly as the runtime will read it.

The folder gets the model's ``config.json`` too: with it ``AutoTokenizer`` returns
``Qwen2Tokenizer``, which puts Qwen's NFC normaliser in front (the corpus is NFC already), and
the training tokens must come from that tokenizer, not from the one in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolution.pretrain.config import PretrainConfig, PretrainError
from evolution.pretrain.corpus import Document
from models.bpe import train_bpe
from models.tokens import QWEN_SPECIAL_TOKENS

ROUND_TRIP_PROBE = "def f(x):\n\treturn {'a': x}  # café ✓ \r\n<|fim_prefix|>\n"


def train_tokenizer(documents: list[Document], config: PretrainConfig, folder: Path) -> Any:
    """Train, save to ``folder`` and return the tokenizer as ``AutoTokenizer`` loads it."""
    from evolution.pretrain.model import qwen2_config

    texts = (doc.text for doc in documents)
    tokenizer = train_bpe(texts, config.vocab_size)
    tokenizer.save_pretrained(folder)
    qwen2_config(config, tokenizer.get_vocab()).save_pretrained(folder)
    return load_tokenizer(folder)


def load_tokenizer(folder: Path) -> Any:
    """The saved tokenizer, checked: every special token one id, text round-trips exactly."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    vocab = tokenizer.get_vocab()
    missing = [tok for tok in QWEN_SPECIAL_TOKENS if tok not in vocab]
    if missing:
        raise PretrainError(f"the tokenizer in {folder} lacks the special tokens {missing}")
    ids = tokenizer(ROUND_TRIP_PROBE, add_special_tokens=False).input_ids
    if tokenizer.decode(ids) != ROUND_TRIP_PROBE:
        raise PretrainError(f"the tokenizer in {folder} does not round-trip text exactly")
    return tokenizer
