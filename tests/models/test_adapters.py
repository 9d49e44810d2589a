"""LoRA adapters saved by peft load, switch and unload on the loaded base without reloading it."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import SamplingParams, load_model
from models.errors import InvalidRequestError, ModelLoadError

PARAMS = SamplingParams(max_new_tokens=16, min_new_tokens=16)
PROMPT = "def parse(text):\n    "


def make_adapter(base_dir: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter as the fine-tuning code saves it, with weights that change the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    peft_model = get_peft_model(base, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:  # zero at init, which would make the adapter a no-op
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def adapters(lively_model_dir, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return (
        make_adapter(lively_model_dir, root / "first", seed=1),
        make_adapter(lively_model_dir, root / "second", seed=2),
    )


def test_load_switch_and_unload_without_reloading(lively_model_dir, adapters):
    first, second = adapters
    model = load_model(lively_model_dir, dtype="float32")
    weights_before = model.hf_model.model.embed_tokens.weight
    base = model.generate(PROMPT, PARAMS).token_ids

    model.load_adapter(first, "first")
    model.load_adapter(second, "second")
    assert model.info.adapter is None
    assert model.generate(PROMPT, PARAMS).token_ids == base, "loading must not activate"

    model.set_adapter("first")
    with_first = model.generate(PROMPT, PARAMS)
    assert model.info.adapter == "first"
    assert with_first.cached_tokens == 0, "the prefix cache must not survive a weight change"
    assert with_first.token_ids != base

    model.set_adapter("second")
    with_second = model.generate(PROMPT, PARAMS).token_ids
    assert with_second not in (base, with_first.token_ids)

    model.set_adapter(None)
    assert model.generate(PROMPT, PARAMS).token_ids == base

    model.set_adapter("first")
    assert model.generate(PROMPT, PARAMS).token_ids == with_first.token_ids
    model.unload_adapter("first")
    assert model.info.adapter is None
    assert model.generate(PROMPT, PARAMS).token_ids == base
    assert set(model.adapters) == {"second"}
    assert model.hf_model.model.embed_tokens.weight is weights_before  # same base, no reload


def test_load_model_with_an_adapter_activates_it(lively_model_dir, adapters):
    first, _ = adapters
    plain = load_model(lively_model_dir, dtype="float32")
    adapted = load_model(lively_model_dir, dtype="float32", adapter=first)
    assert adapted.info.adapter == "first"
    plain.load_adapter(first, "x")
    plain.set_adapter("x")
    assert adapted.generate(PROMPT, PARAMS).token_ids == plain.generate(PROMPT, PARAMS).token_ids


def test_adapter_mistakes_are_clear(lively_model_dir, adapters, tmp_path):
    first, _ = adapters
    model = load_model(lively_model_dir, dtype="float32")
    with pytest.raises(InvalidRequestError, match="no adapter named 'missing'"):
        model.set_adapter("missing")
    with pytest.raises(ModelLoadError, match=r"adapter_config\.json"):
        model.load_adapter(tmp_path, "empty")
    model.load_adapter(first, "a")
    with pytest.raises(InvalidRequestError, match="already loaded"):
        model.load_adapter(first, "a")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "adapter_config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="could not load"):
        model.load_adapter(broken, "b")
    with pytest.raises(InvalidRequestError):
        model.unload_adapter("b")


def test_an_adapter_that_does_not_fit_is_named_precisely(lively_model_dir, adapters, tmp_path):
    """Weights the model has no place for are warned about by name; a second adapter does not
    make the first one's weights look missing (transformers' own report says they are)."""
    import logging
    import shutil

    from safetensors.torch import load_file, save_file

    first, second = adapters
    odd = tmp_path / "odd"
    shutil.copytree(second, odd)
    weights = load_file(odd / "adapter_model.safetensors")
    key = next(k for k in weights if "layers.0." in k)
    weights[key.replace("layers.0.", "layers.99.")] = weights.pop(key)
    save_file(weights, odd / "adapter_model.safetensors")

    model = load_model(lively_model_dir, dtype="float32")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("models.adapters").addHandler(handler)
    try:
        model.load_adapter(first, "first")
        assert not records, [r.getMessage() for r in records]
        model.load_adapter(odd, "odd")
    finally:
        logging.getLogger("models.adapters").removeHandler(handler)
    messages = " ".join(r.getMessage() for r in records)
    assert "layers.99." in messages and "no place for" in messages
    assert "first" not in messages.replace(str(odd), "")
