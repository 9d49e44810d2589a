"""Packed CPU weights (``models.cpu_weights``): ``auto`` picks float16 for large models only,
the products stay close to float32 (float16 weights: greedy output unchanged), and LoRA
adapters still apply, in float32, on top of a packed base."""

from __future__ import annotations

import pytest

from models import SamplingParams, load_model
from models.device import CPU_PACKED_MIN_WEIGHT_BYTES, choose_quantization, quantization_config
from models.errors import InvalidRequestError, UnsupportedError
from models.local import LocalModel
from tests.models.test_adapters import PROMPT, make_adapter

PARAMS = SamplingParams(max_new_tokens=12, min_new_tokens=12)


def test_auto_packs_only_large_models_on_a_cpu():
    large, small = CPU_PACKED_MIN_WEIGHT_BYTES, CPU_PACKED_MIN_WEIGHT_BYTES - 1
    assert choose_quantization("auto", "cpu", large) == "16bit"
    assert choose_quantization("auto", "cpu", None) == "16bit"
    assert choose_quantization("auto", "cpu", small) == "none"
    assert choose_quantization("auto", "cuda", large) == "none"
    assert choose_quantization("auto", "mps", large) == "none"
    assert choose_quantization("none", "cpu", large) == "none"
    assert choose_quantization("8bit", "cpu", small) == "8bit"
    for packed in ("8bit", "16bit"):  # applied after loading, not by bitsandbytes
        assert quantization_config(packed, "cpu") is None
    with pytest.raises(UnsupportedError, match="On a CPU use '8bit' or '16bit'"):
        quantization_config("4bit", "cpu")
    with pytest.raises(UnsupportedError, match="16bit packs float16 weights for a CPU"):
        quantization_config("16bit", "mps")
    with pytest.raises(InvalidRequestError):
        choose_quantization("int8", "cpu")


def test_the_small_smoke_model_stays_float32_under_auto(smoke_model_dir):
    model = load_local(smoke_model_dir, quantization="auto")
    assert model.info.quantization == "none"


def load_local(folder, **kwargs) -> LocalModel:
    model = load_model(folder, dtype="float32", **kwargs)
    assert isinstance(model, LocalModel)
    return model


@pytest.fixture(scope="module")
def full(lively_model_dir):
    return load_local(lively_model_dir)


@pytest.mark.parametrize(("quantization", "max_relative_error"), [("16bit", 1e-3), ("8bit", 0.15)])
def test_every_linear_is_packed_and_the_logits_stay_close(
    full, lively_model_dir, quantization, max_relative_error
):
    import torch

    from models.cpu_weights import PackedLinear

    packed = load_local(lively_model_dir, quantization=quantization)
    assert packed.info.quantization == quantization
    linears = [m for m in packed.hf_model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(isinstance(m, PackedLinear) for m in linears)
    assert packed.hf_model.lm_head.weight.numel() == 0, "the packed copy must be the only one"

    original = full.hf_model.model.layers[0].mlp.down_proj.weight
    unpacked = packed.hf_model.model.layers[0].mlp.down_proj.unpacked_weight()
    rows = original.abs().amax(dim=1, keepdim=True)  # int8: half a step of each row's scale
    bound = rows / 254 if quantization == "8bit" else original.abs() / 1024
    assert bool(((unpacked - original).abs() <= bound + 1e-7).all())

    ids = full.encode(PROMPT)
    with torch.inference_mode():
        reference = full.hf_model(torch.tensor([ids])).logits[0]
        logits = packed.hf_model(torch.tensor([ids])).logits[0]
    error = ((logits - reference).norm(dim=-1) / reference.norm(dim=-1)).max()
    assert 0 < error < max_relative_error  # close, and it really ran on packed weights
    assert packed.generate(PROMPT, PARAMS).new_tokens == PARAMS.max_new_tokens


def test_float16_weights_keep_the_greedy_output(full, lively_model_dir):
    packed = load_local(lively_model_dir, quantization="16bit")
    params = SamplingParams(max_new_tokens=24)
    for prompt in (PROMPT, "class Stack:\n    def push(self, item):\n        "):
        assert packed.generate(prompt, params).token_ids == full.generate(prompt, params).token_ids


@pytest.mark.parametrize("quantization", ["16bit", "8bit"])
def test_a_lora_adapter_applies_in_float32_on_a_packed_base(
    lively_model_dir, tmp_path, quantization
):
    import torch

    adapter = make_adapter(lively_model_dir, tmp_path / "adapter", seed=1)
    model = load_local(lively_model_dir, quantization=quantization)
    base = model.generate(PROMPT, PARAMS).token_ids
    model.load_adapter(adapter, "a")
    lora = [p for name, p in model.hf_model.named_parameters() if "lora_" in name]
    assert lora and all(p.dtype == torch.float32 for p in lora)
    model.set_adapter("a")
    assert model.generate(PROMPT, PARAMS).token_ids != base
    model.set_adapter(None)
    assert model.generate(PROMPT, PARAMS).token_ids == base
