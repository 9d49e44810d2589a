"""The transformers engine's cache layer that grows in place (``models.torch_engine``): it must
hold exactly what transformers' own ``DynamicLayer`` holds through every operation the
decoding loops use."""

from __future__ import annotations

import pytest


def _same(a, b) -> None:
    import torch

    assert a.get_seq_length() == b.get_seq_length()
    assert torch.equal(a.keys, b.keys) and torch.equal(a.values, b.values)


def test_growing_layer_holds_what_dynamic_layer_holds():
    import torch
    from transformers.cache_utils import DynamicLayer

    from models.torch_engine import growing_layer_class

    torch.manual_seed(0)
    grown, plain = growing_layer_class()(), DynamicLayer()

    def update(batch: int, tokens: int) -> None:
        k, v = torch.randn(batch, 2, tokens, 8), torch.randn(batch, 2, tokens, 8)
        out_grown, out_plain = grown.update(k, v), plain.update(k, v)
        assert all(torch.equal(x, y) for x, y in zip(out_grown, out_plain, strict=True))
        _same(grown, plain)

    update(3, 100)  # a prefill past the first room of 64 positions
    for _ in range(40):  # decode steps, past a doubling
        update(3, 1)
    grown.crop(-5)  # a rejected draft
    plain.crop(-5)
    _same(grown, plain)
    update(3, 4)  # written over the cropped positions
    index = torch.tensor([0, 2])
    grown.batch_select_indices(index)  # a row finished
    plain.batch_select_indices(index)
    _same(grown, plain)
    update(2, 1)
    grown.batch_repeat_interleave(3)  # candidates from one prefill
    plain.batch_repeat_interleave(3)
    update(6, 1)


@pytest.mark.parametrize("rows", [1, 4])
def test_stacked_caches_decode_as_each_row_alone(lively, rows, source_text):
    """Rows prefilled alone and stacked left-padded decode as each would alone."""
    from models.types import SamplingParams

    prompts = [source_text[i * 700 : i * 700 + 300 + 90 * i] for i in range(rows)]
    params = SamplingParams(max_new_tokens=12, min_new_tokens=12)
    batch = lively.generate_batch(prompts, params)
    assert [g.token_ids for g in batch] == [lively.generate(p, params).token_ids for p in prompts]
