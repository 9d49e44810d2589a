"""Per-example loss on the held-out examples, with any adapter of the model active or none.

Examples are packed into rows exactly as in training (block-diagonal attention through
position ids), so an example's loss is the same as if it were scored alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evolution.finetune.batching import collate, pack_rows
from evolution.finetune.formatting import IGNORE_INDEX, Example


def per_example_losses(
    model: Any,
    examples: Sequence[Example],
    *,
    pad_id: int,
    max_length: int,
    rows_per_batch: int = 4,
) -> list[float]:
    """Mean loss (nats per labelled token) of each example, in the order given."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    rows = pack_rows([len(e) for e in examples], max_length)
    sums = [0.0] * len(examples)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(rows), rows_per_batch):
                micro = rows[start : start + rows_per_batch]
                batch = collate(examples, micro, pad_id, packing=True)
                logits = model(
                    input_ids=batch["input_ids"].to(device),
                    position_ids=batch["position_ids"].to(device),
                    use_cache=False,
                ).logits.float()  # (rows, width, vocab)
                labels = batch["labels"].to(device)[:, 1:]  # (rows, width - 1)
                token_loss = F.cross_entropy(
                    logits[:, :-1].reshape(-1, logits.shape[-1]),
                    labels.reshape(-1),
                    ignore_index=IGNORE_INDEX,
                    reduction="none",
                ).view(labels.shape)
                for r, row in enumerate(micro):
                    offset = 0
                    for index in row:
                        length = len(examples[index])
                        # Label position t is scored from logits at t - 1.
                        sums[index] += token_loss[r, offset : offset + length - 1].sum().item()
                        offset += length
    finally:
        model.train(was_training)
    return [total / max(1, e.target_tokens) for total, e in zip(sums, examples, strict=True)]


@contextmanager
def active_adapter(model: Any, adapter: str | Path | None) -> Iterator[None]:
    """Score with: ``None`` the base weights, ``"default"`` the adapter being trained, or the
    folder of another adapter (loaded beside it, e.g. the promoted one)."""
    if adapter is None:
        with model.disable_adapter():
            yield
        return
    if adapter == "default":
        yield
        return
    name = "baseline_" + re.sub(r"\W", "_", Path(adapter).name)  # one per baseline folder
    if name not in model.peft_config:
        model.load_adapter(str(adapter), adapter_name=name)
    model.set_adapter(name)
    try:
        yield
    finally:
        model.set_adapter("default")
