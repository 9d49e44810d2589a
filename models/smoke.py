"""Build the tiny random-weight Qwen2-architecture model used by tests and the demo.

The model has RANDOM WEIGHTS: it exercises loading, prompting, caching, batching and
fine-tuning code paths, never quality. Its tokenizer is a byte-level BPE trained here on
the standard library's source, carrying every Qwen2.5-Coder special token and a ChatML
chat template, so prompts are built exactly as for the real models.
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

from models.bpe import CHATML_TEMPLATE, QWEN_PRETOKENIZE_REGEX, train_bpe
from models.tokens import QWEN_SPECIAL_TOKENS

# Re-exported: older imports name them here.
__all__ = ["CHATML_TEMPLATE", "QWEN_PRETOKENIZE_REGEX", "QWEN_SPECIAL_TOKENS"]

SMOKE_MARKER = "evoselfcode-smoke.json"
# Written beside the weights by `evoselfcode pretrain` (evolution/pretrain/card.py).
TRAINED_HERE_MARKER = "evoselfcode-pretrain.json"


def _training_corpus(max_files: int = 400) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for path in sorted(stdlib.glob("*.py"))[:max_files]:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    return texts


def build_tokenizer(vocab_size: int = 4096):
    """Train the smoke model's byte-level BPE and wrap it as a transformers fast tokenizer."""
    return train_bpe(_training_corpus(), vocab_size)


def build_smoke_model(
    out_dir: str | Path,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    intermediate_size: int = 256,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    instruct: bool = False,
    seed: int = 0,
    vocab_size: int | None = None,
) -> Path:
    """Write a random-weight Qwen2 model and its tokenizer to ``out_dir``; return the path.

    The defaults make a ~1.5 MB model; benchmarks pass larger sizes for realistic timings
    (``vocab_size`` pads the embedding past the tokenizer, as Qwen's 151,936 rows do).
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    special_ids = tokenizer.get_vocab()
    eos_id = special_ids["<|endoftext|>"]
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=max(len(tokenizer), vocab_size or 0),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_id,
        # No pad_token_id, as in Qwen2.5's own configs: it would make <|endoftext|> the
        # embedding's padding row (all zeros, a fixed logit), which no training can teach.
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = [
        special_ids[tok] for tok in ("<|endoftext|>", "<|im_end|>")
    ]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    marker = {
        "random_weights": True,
        "note": "EvoSelfCode smoke model: random weights, for tests and the demo only.",
        "instruct": instruct,
        "hidden_size": hidden_size,
        "num_layers": num_layers,
    }
    (out / SMOKE_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return out


def is_smoke_model(path: str | Path) -> bool:
    """True when ``path`` holds a model built here (random weights)."""
    return (Path(path) / SMOKE_MARKER).is_file()


# Everything str.splitlines breaks at (a superset of LSP's line ends).
LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def silence_tokens(model_dir: str | Path, *, blank_pieces: bool = False) -> None:
    """Make a smoke model in ``model_dir`` never emit special tokens or line breaks, in place.

    Their embedding rows become zero: with tied embeddings that is a zero logit, below the best
    of the random ones, so greedy decoding writes one junk line until ``max_new_tokens``, the
    time limit or a cancellation (for benchmarks and tests of long generations).
    ``blank_pieces`` also silences tokens that are only whitespace, so no answer is blank.
    """
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    folder = Path(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    silenced = set(tokenizer.all_special_ids)
    silenced |= set(tokenizer.convert_tokens_to_ids(list(tokenizer.extra_special_tokens)))
    for token_id in range(len(tokenizer)):
        piece = tokenizer.decode([token_id])
        if LINE_BREAKS & set(piece) or (blank_pieces and not piece.strip()):
            silenced.add(token_id)
    weights = load_file(folder / "model.safetensors")
    weights["model.embed_tokens.weight"][sorted(silenced)] = 0
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
