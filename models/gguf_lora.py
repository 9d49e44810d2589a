"""A peft LoRA adapter folder as a GGUF LoRA adapter that llama.cpp loads at run time.

The file is what llama.cpp's ``convert_lora_to_gguf.py`` writes: ``general.type = adapter``,
``adapter.type = lora``, ``adapter.lora.alpha``, and for each adapted weight two tensors named
after the base model's GGUF tensor, ``blk.N.attn_q.weight.lora_a`` (peft's ``lora_A``,
``[rank, in]``) and ``.lora_b`` (``lora_B``, ``[out, rank]``). llama.cpp scales ``B·A`` by
``alpha / rank`` as peft does; rsLoRA's ``alpha / sqrt(rank)`` is written as the alpha that
gives the same scale. Needs the ``gguf`` package (the optional ``llama`` extra).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from models.adapters import adapter_config_file
from models.errors import ModelLoadError, UnsupportedError
from models.gguf_export import cached_conversion, require_llama_extra, write_gguf

ADAPTER_WEIGHTS = "adapter_model.safetensors"


def export_lora_gguf(adapter_dir: str | Path, out_path: str | Path, *, layers: int) -> Path:
    """Write the peft adapter in ``adapter_dir`` (for a Qwen2 base of ``layers`` blocks) as a
    GGUF LoRA adapter at ``out_path``."""
    require_llama_extra("gguf")
    import gguf
    from safetensors import safe_open

    folder, out = Path(adapter_dir), Path(out_path)
    config = _adapter_config(folder)
    rank = int(config.get("r") or 0)
    if config.get("peft_type", "LORA") != "LORA" or rank <= 0:
        raise UnsupportedError(
            f"{folder} is not a plain LoRA adapter (peft_type {config.get('peft_type')!r}, "
            f"r {config.get('r')!r}); llama.cpp loads LoRA adapters only"
        )
    if config.get("use_dora"):
        raise UnsupportedError(f"{folder} is a DoRA adapter, which llama.cpp cannot load")
    alpha = float(config.get("lora_alpha") or rank)
    if config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # llama.cpp's alpha / rank equals rsLoRA's alpha / sqrt(rank)
    weights = folder / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise ModelLoadError(f"{folder} has no {ADAPTER_WEIGHTS} (peft's save_pretrained)")

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, layers)
    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN2])
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", alpha)
    written = 0
    with safe_open(weights, framework="pt") as tensors:
        for key in sorted(tensors.keys()):
            base, part = _split_key(key)
            if part is None:
                raise UnsupportedError(
                    f"{folder} holds {key!r}, which is not a LoRA factor (modules_to_save and "
                    "trained embeddings have no llama.cpp adapter form)"
                )
            gguf_name = names.get_name(base + ".weight", try_suffixes=(".weight",))
            if gguf_name is None:
                raise UnsupportedError(f"no GGUF tensor for the adapted weight {base!r}")
            data = tensors.get_tensor(key).float().numpy()
            writer.add_tensor(f"{gguf_name}.{part}", data)  # blk.0.attn_q.weight.lora_a
            written += 1
    if not written:
        raise ModelLoadError(f"{weights} holds no LoRA weights")
    return write_gguf(writer, out)


def gguf_adapter_file(adapter_dir: str | Path, cache_dir: str | Path, *, layers: int) -> Path:
    """The GGUF form of the adapter in ``adapter_dir`` in ``cache_dir``, converted on first use
    (again when its weights change)."""
    folder = Path(adapter_dir)
    _adapter_config(folder)
    return cached_conversion(
        [folder / ADAPTER_WEIGHTS, folder / "adapter_config.json"],
        Path(cache_dir),
        f"{folder.name}-lora",
        lambda tmp: export_lora_gguf(folder, tmp, layers=layers),
    )


def _adapter_config(folder: Path) -> dict:
    path = adapter_config_file(folder)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelLoadError(f"{path} is not a JSON object")
    return config


def _split_key(key: str) -> tuple[str, str | None]:
    """``base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`` →
    (``model.layers.0.self_attn.q_proj``, ``lora_a``); the part is None for other tensors."""
    name = key.removeprefix("base_model.model.")
    for marker, part in ((".lora_A.weight", "lora_a"), (".lora_B.weight", "lora_b")):
        if name.endswith(marker):
            return name.removesuffix(marker), part
    return name, None
