"""Causal attention per packed sequence ("varlen" attention) for any device, CPU included.

A packed row holds several examples whose position ids restart at 0. transformers reads those
restarts and builds a block-diagonal mask for SDPA, but a masked SDPA still computes the full
``row × row`` score matrix (and loses the causal kernel), so on a CPU a 1,024-token row of five
examples cost more attention than padding them. Flash-attention's varlen kernels, which skip
the blocks, are CUDA-only. This implementation cuts each row at the position-id restarts and
runs causal SDPA on each sequence alone: the exact same result (a test compares logits) for
``Σ len²`` instead of ``row²`` work.

It is registered with transformers under :data:`NAME` and used only by the training model,
which is always called without an attention mask (packed rows, or right-padded rows where
pads follow the real tokens). A call with a mask or a KV cache goes to the stock SDPA path.
"""

from __future__ import annotations

from typing import Any

NAME = "evoselfcode_packed_sdpa"


def register() -> str:
    """Make :data:`NAME` a valid ``attn_implementation``; returns the name."""
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, packed_sdpa_attention)
    return NAME


def packed_sdpa_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """``(batch, heads, length, head_dim)`` in, ``(batch, length, heads, head_dim)`` out."""
    import torch
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    position_ids = kwargs.get("position_ids")
    length = query.shape[2]
    if attention_mask is not None or length == 1 or key.shape[2] != length:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)  # (batch, heads, length, dim)

    def attend(q: Any, k: Any, v: Any) -> Any:
        return F.scaled_dot_product_attention(
            q, k, v, dropout_p=dropout, scale=scaling, is_causal=True
        )

    lengths = _sequence_lengths(position_ids, query.shape[0], length)
    if all(len(row) == 1 for row in lengths):  # nothing packed: one causal call for the batch
        out = attend(query, key, value)
    else:
        # split (not slicing): its backward is one concatenation, where each slice would
        # scatter into a zero tensor the size of the whole batch. Pieces stay 4-D, which the
        # CPU flash kernel needs (3-D ones fall back to the math kernel).
        rows = []
        per_row = zip(query.split(1), key.split(1), value.split(1), lengths, strict=True)
        for q, k, v, sizes in per_row:  # each (1, heads, length, dim)
            pieces = zip(q.split(sizes, 2), k.split(sizes, 2), v.split(sizes, 2), strict=True)
            rows.append(torch.cat([attend(*piece) for piece in pieces], dim=2))
        out = torch.cat(rows)  # (batch, heads, length, dim)
    return out.transpose(1, 2).contiguous(), None


def _sequence_lengths(position_ids: Any, batch: int, length: int) -> list[list[int]]:
    """Per row, the lengths of its sequences: a new one starts wherever the position is 0."""
    if position_ids is None:
        return [[length]] * batch
    lengths = []
    for positions in position_ids.expand(batch, length).tolist():
        starts = [i for i, p in enumerate(positions) if p == 0 or i == 0]
        ends = [*starts[1:], length]
        lengths.append([end - start for start, end in zip(starts, ends, strict=True)])
    return lengths
