"""Load the base model and tokenizer for training and wrap the model with LoRA.

Training loads with transformers and peft directly (the serving runtime in ``models`` is built
for generation); the model reference is resolved as serving resolves it, so the adapter is
trained on the very weights it will be served on. Device, dtype and 4-bit quantization are
chosen by ``models.device`` as for serving; 4-bit QLoRA (bitsandbytes) needs CUDA.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from evolution.finetune.config import FinetuneConfig
from evolution.finetune.errors import UnsupportedSetup


@dataclass
class LoadedModel:
    """The LoRA-wrapped model, its tokenizer and where they came from."""

    model: Any  # peft.PeftModel
    tokenizer: Any
    model_path: str
    device: str
    dtype: str
    random_weights: bool


def resolve_base_model(config: FinetuneConfig) -> str:
    """The folder of ``config.base_model``, resolved as the serving runtime resolves it."""
    from models.resolve import resolve_model

    return str(resolve_model(config.base_model, models_dir=config.models_dir or None).path)


def load_tokenizer(model_path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path)


def load_for_training(
    config: FinetuneConfig,
    *,
    model_path: str | None = None,
    tokenizer: Any = None,
    device_index: int = 0,
) -> LoadedModel:
    """Base model + a fresh LoRA adapter ("default") on every ``config.target_modules``.

    The adapter's initial weights come from ``config.seed``. ``device_index`` is the local
    process's GPU under ``accelerate launch``.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from models.device import choose_device, choose_dtype, quantization_config
    from models.errors import UnsupportedError
    from models.smoke import is_smoke_model

    try:
        device = choose_device(config.device)
        dtype = choose_dtype(config.dtype, device)
        quantization = quantization_config(config.quantization, device)
    except UnsupportedError as exc:
        raise UnsupportedSetup(str(exc)) from exc
    from evolution.finetune.packed_attention import register as packed_attention

    model_path = model_path or resolve_base_model(config)
    # Causal attention per packed sequence: see packed_attention.py for why not the stock SDPA.
    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": packed_attention()}
    if quantization is not None:  # QLoRA: 4-bit base weights on this process's GPU
        kwargs.update(quantization_config=quantization, device_map={"": device_index})
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    model.config.use_cache = False  # a KV cache would also hide packed-sequence boundaries
    if quantization is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()  # LoRA-only grads must still reach checkpoints
    _check_targets(model, config.target_modules)
    torch.manual_seed(config.seed)
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # peft 0.21 calls an API transformers 5 renamed
        warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
        peft_model = get_peft_model(model, lora)
    return LoadedModel(
        model=peft_model,
        tokenizer=tokenizer if tokenizer is not None else load_tokenizer(model_path),
        model_path=model_path,
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        random_weights=is_smoke_model(model_path),
    )


def _check_targets(model: Any, targets: tuple[str, ...]) -> None:
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [t for t in targets if t not in names]
    if missing:
        raise UnsupportedSetup(
            f"target_modules names modules this model does not have: {', '.join(missing)} "
            f"(it has e.g. {', '.join(sorted(n for n in names if n.endswith('proj'))[:8])})"
        )


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch CPU threads (0: leave the setting alone)."""
    import torch

    if count <= 0:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
