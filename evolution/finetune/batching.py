"""Rows, micro-batches and the whole training plan, decided before the first step.

Packing (the default) puts up to ``batch_size`` examples in one row of at most ``max_length``
tokens (best-fit decreasing) and gives each example its own position ids starting at 0; one
row is one micro-batch. So a micro-batch holds ``batch_size`` sequences in both modes (the
optimisation sees the same batches), but a packed one carries no padding at all. Attention
stays within each example: ``packed_attention.py`` runs causal attention per sequence, and the
stock kernels would read the position-id restarts as block-diagonal masks (a test checks that
an example's logits in a row equal its logits alone).

Small micro-batches are also the fast ones on a CPU: measured on the benchmark model, packing
four 1,024-token rows per micro-batch ran at the speed of padding, because a LoRA step is
dominated by element-wise work on activations that then no longer fit the caches.

Without packing, examples of similar length are batched together (length grouping) and padded
on the right. Right padding needs no attention mask for causal training: real tokens never see
the pads that follow them, and pads carry no labels, so the fast causal kernel is kept.

The plan is a pure function of the examples, the config and the seed: step ``s`` always gets
the same micro-batches, so a resumed run continues with exactly the data it would have seen.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evolution.finetune.formatting import IGNORE_INDEX, Example

Row = list[int]  # indices of the examples in one row
MicroBatch = list[Row]

# Length grouping sorts within windows of this many batches: similar lengths, still shuffled.
GROUP_WINDOW_BATCHES = 50


@dataclass(frozen=True)
class TrainingPlan:
    """Every optimizer step's micro-batches, and the loss denominators they need."""

    steps: list[list[MicroBatch]]
    target_tokens: list[int]  # labelled tokens of each step (all processes together)
    micro_batches_per_epoch: int

    def __len__(self) -> int:
        return len(self.steps)


def pack_rows(lengths: Sequence[int], capacity: int, max_items: int | None = None) -> list[Row]:
    """Best-fit decreasing: each example goes to the fullest row it still fits in.

    A row holds at most ``capacity`` tokens and ``max_items`` examples.
    """
    rows: list[Row] = []
    free: list[tuple[int, int]] = []  # (free tokens, row index) of rows with room, sorted
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        need = lengths[index]
        slot = bisect.bisect_left(free, (need, -1))
        if slot < len(free):
            room, row = free.pop(slot)
            rows[row].append(index)
            room -= need
        else:
            rows.append([index])
            room, row = capacity - need, len(rows) - 1
        if max_items is None or len(rows[row]) < max_items:
            bisect.insort(free, (room, row))
    return rows


def epoch_micro_batches(
    examples: Sequence[Example],
    *,
    batch_size: int,
    max_length: int,
    packing: bool,
    seed: int,
    epoch: int,
    group_by_length: bool = True,
) -> list[MicroBatch]:
    """One epoch's micro-batches in training order (a seeded shuffle per epoch)."""
    rng = random.Random(f"{seed}:epoch:{epoch}")
    if packing:
        rows = pack_rows([len(e) for e in examples], max_length, batch_size)
        rng.shuffle(rows)
        return [[row] for row in rows]
    order = list(range(len(examples)))
    rng.shuffle(order)
    if group_by_length:
        window = batch_size * GROUP_WINDOW_BATCHES
        order = [
            index
            for start in range(0, len(order), window)
            for index in sorted(order[start : start + window], key=lambda i: -len(examples[i]))
        ]
    batches = [[[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def build_plan(
    examples: Sequence[Example],
    *,
    epochs: float,
    batch_size: int,
    gradient_accumulation: int,
    max_length: int,
    packing: bool,
    seed: int,
    world_size: int = 1,
    group_by_length: bool = True,
) -> TrainingPlan:
    """Group ``ceil(epochs × micro-batches per epoch)`` micro-batches into optimizer steps.

    With several processes, micro-batch ``k`` of a step goes to process ``k % world_size``;
    the total is cut to a multiple of ``world_size`` so that no process idles in a step.
    """

    def epoch(number: int) -> list[MicroBatch]:
        return epoch_micro_batches(
            examples,
            batch_size=batch_size,
            max_length=max_length,
            packing=packing,
            seed=seed,
            epoch=number,
            group_by_length=group_by_length,
        )

    per_epoch = len(epoch(0))
    total = math.ceil(epochs * per_epoch)
    total = max(world_size, total - total % world_size)
    stream = [micro for number in range(math.ceil(total / per_epoch)) for micro in epoch(number)]
    stream = stream[:total]
    per_step = gradient_accumulation * world_size
    steps = [stream[i : i + per_step] for i in range(0, len(stream), per_step)]
    targets = [
        sum(examples[i].target_tokens for micro in step for row in micro for i in row)
        for step in steps
    ]
    return TrainingPlan(steps=steps, target_tokens=targets, micro_batches_per_epoch=per_epoch)


def collate(
    examples: Sequence[Example], micro_batch: MicroBatch, pad_id: int, packing: bool
) -> dict[str, Any]:
    """Tensors for one micro-batch: input_ids, labels, position_ids (packed rows only).

    Also returns ``real_tokens``: the tokens that are not padding (what tokens/s counts).
    """
    import torch

    rows_ids, rows_labels, rows_pos = [], [], []
    for row in micro_batch:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for index in row:
            example = examples[index]
            ids += example.input_ids
            # The first token of an example is never predicted from its neighbour's last.
            labels += [IGNORE_INDEX, *example.labels[1:]]
            positions += range(len(example))
        rows_ids.append(ids)
        rows_labels.append(labels)
        rows_pos.append(positions)
    width = max(len(ids) for ids in rows_ids)
    real_tokens = sum(len(ids) for ids in rows_ids)
    for ids, labels, positions in zip(rows_ids, rows_labels, rows_pos, strict=True):
        pad = width - len(ids)
        ids += [pad_id] * pad
        labels += [IGNORE_INDEX] * pad
        positions += range(pad)  # the padding tail is a sequence of its own
    batch: dict[str, Any] = {
        "input_ids": torch.tensor(rows_ids, dtype=torch.long),  # (rows, width)
        "labels": torch.tensor(rows_labels, dtype=torch.long),  # (rows, width)
        "real_tokens": real_tokens,
    }
    if packing:
        batch["position_ids"] = torch.tensor(rows_pos, dtype=torch.long)  # (rows, width)
    return batch
