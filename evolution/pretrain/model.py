"""The model's shape, its cost in FLOPs, and what the hardware can do.

The shape is a Qwen2 decoder (Qwen2Config/Qwen2ForCausalLM), so every code path that serves
Qwen2.5-Coder serves it unchanged. Training cost is estimated the usual way: 6 FLOPs per
parameter per token (forward 2, backward 4) plus attention's 12·layers·hidden·context per token
(``utilisation`` reports measured tokens/s against it).
"""

from __future__ import annotations

import time
from typing import Any

from evolution.pretrain.config import PretrainConfig
from models.tokens import QWEN_SPECIAL_TOKENS


def qwen2_config(config: PretrainConfig, vocab: dict[str, int]) -> Any:
    """The transformers config of the model ``config`` describes, for a tokenizer's ``vocab``."""
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.kv_heads,
        # The context it was trained on: the runtime sizes its prompts to this, and RoPE
        # positions beyond it were never seen.
        max_position_embeddings=config.context,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=vocab["<|endoftext|>"],
        # No pad_token_id, as in Qwen2.5's own configs (see models.smoke).
    )


def build_model(config: PretrainConfig, vocab: dict[str, int]) -> Any:
    """A freshly initialised model (the caller seeds torch first)."""
    from transformers import Qwen2ForCausalLM

    model = Qwen2ForCausalLM(qwen2_config(config, vocab))
    # Every special token stops generation, as in the runtime: a FIM middle ends with
    # <|endoftext|>, a chat turn with <|im_end|>, and a model that goes on to another file
    # (<|file_sep|>) or emits a format token has finished the answer it was asked for.
    model.generation_config.eos_token_id = [vocab[token] for token in QWEN_SPECIAL_TOKENS]
    model.generation_config.pad_token_id = vocab["<|endoftext|>"]  # as Qwen2.5's own
    return model


def parameter_count(model: Any) -> int:
    """Distinct parameters (the tied embedding counted once)."""
    return sum(p.numel() for p in model.parameters())


def flops_per_token(params: int, config: PretrainConfig) -> float:
    """Training FLOPs per token: 6·N for the weights plus 12·layers·hidden·context/2 for
    causal attention's score and value products (half the square is masked)."""
    attention = 12 * config.layers * config.hidden_size * config.context / 2
    return 6.0 * params + attention


def measure_matmul_gflops(device: str = "cpu", size: int = 1024, seconds: float = 0.5) -> float:
    """Float32 matrix-product speed of this device with torch's current threads, in GFLOP/s:
    the practical ceiling that ``utilisation`` compares training with."""
    import torch

    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    torch.mm(a, b)  # warm up (thread pool, kernels)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    runs = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        runs += 1
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return 2.0 * size**3 * runs / elapsed / 1e9
