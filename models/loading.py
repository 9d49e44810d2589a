"""``load_model``: one entry point for the local runtime and the remote backend."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.device import (
    CPU_PACKED,
    choose_device,
    choose_dtype,
    choose_quantization,
    dtype_name,
    quantization_config,
)
from models.errors import InvalidRequestError, ModelLoadError
from models.resolve import ResolvedModel, check_model_folder, resolve_model
from models.smoke import SMOKE_MARKER, TRAINED_HERE_MARKER
from models.types import CodeModel, ModelInfo, ModelKind

logger = logging.getLogger(__name__)

_INSTRUCT_NAME = re.compile(r"(instruct|chat)", re.IGNORECASE)


def load_model(
    ref: str | os.PathLike[str],
    *,
    device: str = "auto",
    dtype: str = "auto",
    quantization: str = "none",
    models_dir: str | Path | None = None,
    adapter: str | Path | None = None,
    backend: str = "local",
    remote_base_url: str | None = None,
    remote_model: str | None = None,
    api_key: str | None = None,
    context_window: int | None = None,
    prefix_cache: bool = True,
) -> CodeModel:
    """Load the model ``ref`` names (see ``models.resolve``) or connect to a remote one.

    ``backend="remote"`` sends prompts to the OpenAI-compatible server at ``remote_base_url``
    as model ``remote_model`` (default: ``ref``); ``ref`` is then used only to find a local
    tokenizer for exact token counts. ``adapter`` is a LoRA folder loaded and activated
    under its folder name. ``quantization="auto"`` (the setting's default) means float16
    weights on a CPU for models too large for its caches, the weights as loaded elsewhere
    (``models.device.choose_quantization``).
    """
    if context_window is not None and context_window < 16:
        raise InvalidRequestError(f"context_window must be at least 16, got {context_window}")
    if backend == "remote":
        from models.remote import RemoteModel

        if adapter:
            raise InvalidRequestError("LoRA adapters apply to local models only")
        return RemoteModel.connect(
            ref,
            base_url=remote_base_url,
            model=remote_model,
            api_key=api_key,
            context_window=context_window,
            models_dir=models_dir,
        )
    if backend != "local":
        raise InvalidRequestError(f"backend must be 'local' or 'remote', got {backend!r}")
    resolved = resolve_model(ref, models_dir)
    model = load_local(
        resolved,
        device=device,
        dtype=dtype,
        quantization=quantization,
        context_window=context_window,
        prefix_cache=prefix_cache,
    )
    if adapter:
        name = Path(adapter).name or "adapter"
        model.load_adapter(adapter, name)
        model.set_adapter(name)
    return model


def load_local(
    resolved: ResolvedModel,
    *,
    device: str = "auto",
    dtype: str = "auto",
    quantization: str = "none",
    context_window: int | None = None,
    prefix_cache: bool = True,
) -> Any:
    """A ``LocalModel`` for a resolved folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    auto_model: Any = AutoModelForCausalLM  # its from_pretrained is typed oddly

    from models.local import LocalModel

    config = check_model_folder(resolved.path)
    dev = choose_device(device)
    torch_dtype = choose_dtype(dtype, dev)
    weight_bytes = sum(f.stat().st_size for f in resolved.path.glob("*.safetensors"))
    quantization = choose_quantization(quantization, dev, weight_bytes or None)
    quant = quantization_config(quantization, dev)
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.path, local_files_only=True)
    except Exception as exc:  # missing or broken tokenizer files raise many kinds of errors
        raise ModelLoadError(f"the tokenizer in {resolved.path} cannot be loaded: {exc}") from exc
    kwargs: dict[str, Any] = {"dtype": torch_dtype, "local_files_only": True}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": dev})
    try:
        with quiet_weight_loading():
            hf_model = auto_model.from_pretrained(resolved.path, **kwargs)
    except Exception as exc:
        raise ModelLoadError(f"the model in {resolved.path} cannot be loaded: {exc}") from exc
    if quant is None:
        hf_model.to(dev)
    if dev == "cpu" and quantization in CPU_PACKED:
        from models.cpu_weights import pack_linear_layers

        pack_linear_layers(hf_model, CPU_PACKED[quantization])
    marker = _smoke_marker(resolved.path)
    info = ModelInfo(
        name=resolved.name,
        path=resolved.path,
        kind=detect_kind(resolved.name, resolved.path, marker),
        device=dev,
        dtype=dtype_name(torch_dtype),
        quantization=quantization,
        context_window=context_window or int(config.get("max_position_embeddings") or 32768),
        adapter=None,
        random_weights=bool(marker.get("random_weights", False)),
        backend="local",
        trained_here=(resolved.path / TRAINED_HERE_MARKER).is_file(),
    )
    logger.info(
        "loaded %s from %s on %s (%s, quantization %s)",
        info.name,
        info.path,
        info.device,
        info.dtype,
        info.quantization,
    )
    if info.random_weights:
        logger.info("%s has RANDOM WEIGHTS (smoke model): its output is junk", info.name)
    return LocalModel(hf_model, tokenizer, info, prefix_cache=prefix_cache)


def detect_kind(name: str, path: Path | None, smoke_marker: dict[str, Any]) -> ModelKind:
    """``instruct`` for chat-tuned models (their name says so, as Qwen's do), else ``base``."""
    if "instruct" in smoke_marker:
        return "instruct" if smoke_marker["instruct"] else "base"
    names = [name] + ([path.name] if path is not None else [])
    return "instruct" if any(_INSTRUCT_NAME.search(n) for n in names) else "base"


def _smoke_marker(path: Path) -> dict[str, Any]:
    marker = path / SMOKE_MARKER
    if not marker.is_file():
        return {}
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"random_weights": True}  # a damaged marker still means a smoke model
    return data if isinstance(data, dict) else {"random_weights": True}


@contextlib.contextmanager
def quiet_weight_loading() -> Iterator[None]:
    """No weight-loading progress bar: in the language server stderr is the log."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
