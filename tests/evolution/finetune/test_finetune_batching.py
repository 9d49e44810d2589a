"""Packing, the training plan and per-example held-out losses."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from evolution.finetune.batching import build_plan, collate, epoch_micro_batches, pack_rows
from evolution.finetune.formatting import IGNORE_INDEX, Example
from evolution.finetune.heldout import per_example_losses


def _examples(lengths: list[int], seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i, n in enumerate(lengths):
        ids = [rng.randrange(10, 4000) for _ in range(n)]
        prompt = max(1, n // 3)
        out.append(Example(ids, [IGNORE_INDEX] * prompt + ids[prompt:], "chat", f"k{i}"))
    return out


@pytest.fixture(scope="module", params=["sdpa", "packed"])
def base_model(request, smoke_model_dir: Path):
    """The smoke model with transformers' SDPA, and with our per-sequence attention."""
    from transformers import AutoModelForCausalLM

    from evolution.finetune.packed_attention import register

    attention = register() if request.param == "packed" else "sdpa"
    return AutoModelForCausalLM.from_pretrained(
        smoke_model_dir, dtype=torch.float32, attn_implementation=attention
    ).eval()


def test_packing_uses_every_example_once_within_capacity_and_few_rows():
    rng = random.Random(1)
    lengths = [rng.randint(5, 120) for _ in range(300)]
    rows = pack_rows(lengths, 128)
    flat = sorted(i for row in rows for i in row)
    assert flat == list(range(300))
    assert all(sum(lengths[i] for i in row) <= 128 for row in rows)
    lower_bound = -(-sum(lengths) // 128)
    assert len(rows) <= lower_bound * 1.1 + 1  # best-fit decreasing is near optimal here
    capped = pack_rows(lengths, 128, max_items=2)
    assert sorted(i for row in capped for i in row) == list(range(300))
    assert max(len(row) for row in capped) == 2


def test_a_packed_micro_batch_is_one_row_of_at_most_batch_size_examples():
    examples = _examples([random.Random(i).randint(5, 40) for i in range(50)])
    batches = epoch_micro_batches(
        examples, batch_size=4, max_length=256, packing=True, seed=0, epoch=0
    )
    assert all(len(micro) == 1 and 1 <= len(micro[0]) <= 4 for micro in batches)
    assert len(batches) == 13  # 50 short examples, four per row


def test_packed_examples_see_only_themselves(base_model):
    """Each example's logits in a packed row equal its logits alone (block-diagonal mask)."""
    examples = _examples([9, 14, 5, 11])
    batch = collate(examples, [[0, 1, 2], [3]], pad_id=0, packing=True)
    assert batch["real_tokens"] == 39
    with torch.no_grad():
        packed = base_model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
        ).logits
        offset = 0
        for index in (0, 1, 2):
            alone = base_model(input_ids=torch.tensor([examples[index].input_ids])).logits
            length = len(examples[index])
            assert torch.allclose(packed[0, offset : offset + length], alone[0], atol=1e-5)
            offset += length
        # Without the position-id resets the same row would leak across examples.
        leaky = base_model(input_ids=batch["input_ids"], use_cache=False).logits
        assert not torch.allclose(leaky[0, 9:23], packed[0, 9:23], atol=1e-3)


def test_collate_masks_each_example_start_and_the_padding():
    examples = _examples([6, 4, 3])
    batch = collate(examples, [[0, 1], [2]], pad_id=0, packing=True)
    labels, positions = batch["labels"], batch["position_ids"]
    assert labels.shape == (2, 10)
    assert labels[0, 0] == labels[0, 6] == IGNORE_INDEX  # no example predicts its neighbour
    assert (labels[1, 3:] == IGNORE_INDEX).all()  # padding carries no loss
    assert positions[0].tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]
    padded = collate(examples, [[0], [2]], pad_id=0, packing=False)
    assert "position_ids" not in padded and padded["input_ids"].shape == (2, 6)


def test_the_plan_is_a_pure_function_of_the_data_and_seed():
    examples = _examples([random.Random(i).randint(5, 60) for i in range(40)])
    kwargs = dict(batch_size=2, gradient_accumulation=2, max_length=128, packing=True, seed=3)
    plan = build_plan(examples, epochs=2.5, **kwargs)
    again = build_plan(examples, epochs=2.5, **kwargs)
    assert plan.steps == again.steps and plan.target_tokens == again.target_tokens
    per_epoch = plan.micro_batches_per_epoch
    assert sum(len(step) for step in plan.steps) == -(-5 * per_epoch // 2)
    first_epoch = [i for step in plan.steps for micro in step for row in micro for i in row]
    assert sorted(first_epoch[:40]) == list(range(40))  # every example once per epoch
    other_seed = build_plan(examples, epochs=2.5, **{**kwargs, "seed": 4})
    assert other_seed.steps != plan.steps
    two = build_plan(examples, epochs=2.5, world_size=2, **kwargs)
    assert sum(len(step) for step in two.steps) % 2 == 0


def test_length_grouping_batches_similar_lengths_without_packing():
    examples = _examples([5 if i % 2 else 200 for i in range(64)])
    batches = epoch_micro_batches(
        examples, batch_size=8, max_length=256, packing=False, seed=0, epoch=0
    )
    widths = [{len(examples[row[0]]) for row in micro} for micro in batches]
    assert all(len(w) == 1 for w in widths)  # no batch mixes 5- and 200-token examples


def test_heldout_losses_equal_each_example_scored_alone(base_model):
    import torch.nn.functional as F

    examples = _examples([12, 30, 7, 19, 25])
    packed = per_example_losses(base_model, examples, pad_id=0, max_length=64, rows_per_batch=2)
    with torch.no_grad():
        for example, loss in zip(examples, packed, strict=True):
            logits = base_model(input_ids=torch.tensor([example.input_ids])).logits[0, :-1]
            labels = torch.tensor(example.labels[1:])
            alone = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX).item()
            assert loss == pytest.approx(alone, abs=1e-4)
