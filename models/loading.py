"""``load_model``: one entry point for the local runtime (on transformers or llama.cpp) and the
remote backend."""

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
from models.errors import InvalidRequestError, ModelLoadError, UnsupportedError
from models.resolve import ResolvedModel, check_model_folder, resolve_model
from models.smoke import SMOKE_MARKER, TRAINED_HERE_MARKER
from models.types import BACKENDS, Backend, CodeModel, ModelInfo, ModelKind

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
    data_dir: str | Path | None = None,
) -> CodeModel:
    """Load the model ``ref`` names (see ``models.resolve``) or connect to a remote one.

    ``backend="remote"`` sends prompts to the OpenAI-compatible server at ``remote_base_url``
    as model ``remote_model`` (default: ``ref``); ``ref`` is then used only to find a local
    tokenizer for exact token counts. ``adapter`` is a LoRA folder loaded and activated
    under its folder name. ``quantization="auto"`` (the setting's default) means float16
    weights on a CPU for models too large for its caches, the weights as loaded elsewhere
    (``models.device.choose_quantization``).

    ``backend="auto"`` is ``llama.cpp`` on a CPU where the ``llama`` extra is installed, else
    ``local`` (``choose_backend``). ``backend="llama.cpp"`` runs the same local model on
    llama.cpp's CPU kernels (``models.llama_engine``): the folder is converted to GGUF once,
    into ``gguf/`` under ``data_dir`` (default: ``models.paths.default_data_dir()``), at the
    type ``quantization`` names (``auto`` and ``16bit``: F16). Fine-tuning and scoring need
    the transformers model, so callers other than the editor's completions keep ``local``.
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
    chosen = choose_backend(backend, device)  # an unknown backend fails before the search
    resolved = resolve_model(ref, models_dir)
    if chosen == "llama.cpp":
        model = load_llama_cpp(
            resolved,
            device=device,
            quantization=quantization,
            context_window=context_window,
            prefix_cache=prefix_cache,
            data_dir=data_dir,
        )
    else:
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


def choose_backend(requested: str, device: str = "auto") -> Backend:
    """``auto``: llama.cpp when the model would run on a CPU and the ``llama`` extra is
    installed, else transformers (``local``).

    bench/cpu_latency.py on this project's 2-core AVX2 CPU, typing mid-file, p50 per
    keystroke with the same greedy output: the shipped small model 33 ms on llama.cpp (F16)
    against 119 ms on transformers (a small model's time goes to per-token overhead, which
    llama.cpp's C loop does not have); Qwen2.5-Coder-0.5B's shape 2.5 s against 2.6 s.
    """
    if requested not in BACKENDS:
        raise InvalidRequestError(f"backend must be one of {BACKENDS}, got {requested!r}")
    if requested != "auto":
        return requested  # type: ignore[return-value]  (checked against BACKENDS)
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or choose_device(device) != "cpu":
        return "local"
    return "llama.cpp"


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
    from transformers import AutoModelForCausalLM

    auto_model: Any = AutoModelForCausalLM  # its from_pretrained is typed oddly

    from models.local import LocalModel
    from models.torch_engine import TorchEngine

    config = check_model_folder(resolved.path)
    dev = choose_device(device)
    torch_dtype = choose_dtype(dtype, dev)
    weight_bytes = sum(f.stat().st_size for f in resolved.path.glob("*.safetensors"))
    quantization = choose_quantization(quantization, dev, weight_bytes or None)
    quant = quantization_config(quantization, dev)
    tokenizer = _load_tokenizer(resolved.path)
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
    context = context_window or int(config.get("max_position_embeddings") or 32768)
    info = _loaded_info(resolved, "local", dev, dtype_name(torch_dtype), quantization, context)
    return LocalModel(TorchEngine(hf_model, dev), tokenizer, info, prefix_cache=prefix_cache)


# llama.cpp allocates keys and values for its whole context up front: a model that reads 32k
# tokens gets this many unless ``context_window`` asks for more (completion prompts use ~2k).
LLAMA_DEFAULT_CONTEXT = 8192


def load_llama_cpp(
    resolved: ResolvedModel,
    *,
    device: str = "auto",
    quantization: str = "auto",
    context_window: int | None = None,
    prefix_cache: bool = True,
    data_dir: str | Path | None = None,
) -> Any:
    """A ``LocalModel`` on llama.cpp for a resolved folder (``models.llama_engine``)."""
    from models.gguf_export import gguf_file, require_llama_extra
    from models.llama_engine import GGUF_TYPES, LlamaCppEngine
    from models.local import LocalModel
    from models.paths import resolve_data_dir

    if device not in ("auto", "cpu"):
        raise UnsupportedError(
            f"the llama.cpp backend runs on the CPU; device is {device!r}: set it to 'auto' or "
            "'cpu', or use the local backend for a GPU"
        )
    if quantization not in ("auto", *GGUF_TYPES):
        raise InvalidRequestError(
            f"quantization must be one of {('auto', *GGUF_TYPES)}, got {quantization!r}"
        )
    require_llama_extra()
    config = check_model_folder(resolved.path)
    chosen = "16bit" if quantization == "auto" else quantization
    cache = resolve_data_dir(str(data_dir or "")) / "gguf"
    try:
        path = gguf_file(resolved.path, GGUF_TYPES[chosen], cache)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{resolved.path} cannot be converted to GGUF: {exc}") from exc
    tokenizer = _load_tokenizer(resolved.path)
    trained = int(config.get("max_position_embeddings") or 32768)
    context = context_window or min(trained, LLAMA_DEFAULT_CONTEXT)
    engine = LlamaCppEngine(
        path,
        eos_ids=_eos_ids(resolved.path, config),
        layers=int(config["num_hidden_layers"]),
        adapter_cache=cache,
        context=context,
    )
    info = _loaded_info(resolved, "llama.cpp", "cpu", GGUF_TYPES[chosen], chosen, context)
    return LocalModel(engine, tokenizer, info, prefix_cache=prefix_cache)


def _load_tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # missing or broken tokenizer files raise many kinds of errors
        raise ModelLoadError(f"the tokenizer in {folder} cannot be loaded: {exc}") from exc


def _eos_ids(folder: Path, config: dict[str, Any]) -> list[int]:
    """The end-of-text ids generation stops at, as transformers reads them."""
    from transformers import GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(folder, local_files_only=True).eos_token_id
    except OSError:  # no generation_config.json
        eos = config.get("eos_token_id")
    return [eos] if isinstance(eos, int) else list(eos or ())


def _loaded_info(
    resolved: ResolvedModel,
    backend: Backend,
    device: str,
    dtype: str,
    quantization: str,
    context_window: int,
) -> ModelInfo:
    marker = _smoke_marker(resolved.path)
    info = ModelInfo(
        name=resolved.name,
        path=resolved.path,
        kind=detect_kind(resolved.name, resolved.path, marker),
        device=device,
        dtype=dtype,
        quantization=quantization,
        context_window=context_window,
        adapter=None,
        random_weights=bool(marker.get("random_weights", False)),
        backend=backend,
        trained_here=(resolved.path / TRAINED_HERE_MARKER).is_file(),
    )
    logger.info(
        "loaded %s from %s on %s with %s (%s, quantization %s)",
        info.name,
        info.path,
        info.device,
        backend,
        info.dtype,
        info.quantization,
    )
    if info.random_weights:
        logger.info("%s has RANDOM WEIGHTS (smoke model): its output is junk", info.name)
    return info


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
