"""Model references → model folders.

A reference is, in this order:

1. a folder (absolute, or relative to the working directory);
2. a name under the weights folder (``models_dir``, default ``models.paths.default_models_dir()``),
   e.g. ``Qwen2.5-Coder-1.5B`` for ``models/Qwen2.5-Coder-1.5B/`` (for a hub id, its last part);
3. a Hugging Face hub id in the local HF cache; a bare ``Qwen2.5-Coder*`` name is also tried
   as ``Qwen/<name>``;
4. a hub id (``org/name``) downloaded from the Hub, unless offline (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from models.errors import InvalidRequestError, ModelLoadError, ModelNotFoundError
from models.paths import default_models_dir

logger = logging.getLogger(__name__)

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Files a causal LM needs from the hub; skips other frameworks' weights and GGUF copies.
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.py"]


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    source: Literal["folder", "models_dir", "hf_cache", "hub"]


def hf_offline() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def resolve_model(
    ref: str | os.PathLike[str],
    models_dir: str | Path | None = None,
    *,
    download: bool = True,
) -> ResolvedModel:
    """The folder ``ref`` names, checked to hold a config and weights.

    ``download=False`` never contacts the Hub (used to look for a local tokenizer).

    Raises ModelNotFoundError (listing every place looked at and how to get the model) or
    ModelLoadError (a folder was found but is not a usable model).
    """
    text = str(ref).strip()
    if not text:
        raise InvalidRequestError(
            "the model reference is empty; set it to a folder or a model name"
        )
    looked: list[str] = []

    folder = Path(text).expanduser()
    if folder.is_dir():
        check_model_folder(folder)
        return ResolvedModel(folder.name, folder.resolve(), "folder")
    looked.append(f"folder {folder.resolve()}")

    weights_dir = Path(models_dir).expanduser() if models_dir else default_models_dir()
    hub_id = text if _HUB_ID.match(text) else None
    candidates = dict.fromkeys([weights_dir / text, weights_dir / Path(text).name])
    for candidate in (c for c in candidates if c != folder):
        if candidate.is_dir():
            check_model_folder(candidate)
            return ResolvedModel(text, candidate.resolve(), "models_dir")
        looked.append(f"weights folder {candidate}")

    repo_ids = [hub_id] if hub_id else []
    if "/" not in text and text.lower().startswith("qwen"):
        repo_ids.append(f"Qwen/{text}")
    for repo_id in repo_ids:
        cached = _from_hf_cache(repo_id)
        if cached is not None:
            check_model_folder(cached)
            return ResolvedModel(repo_id, cached, "hf_cache")
        looked.append(f"Hugging Face cache {_hf_cache_dir()} ({repo_id})")

    if hub_id and download and not hf_offline():
        return ResolvedModel(hub_id, _download(hub_id, looked), "hub")
    raise _not_found(text, looked, weights_dir, repo_ids[-1] if repo_ids else None)


def check_model_folder(folder: Path) -> dict[str, Any]:
    """The parsed config.json of ``folder``; ModelLoadError if it is not a loadable model."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(
            f"{folder} has no config.json, so it is not a transformers model folder. "
            "A model folder holds config.json, the tokenizer files and *.safetensors weights."
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"{config_path} is not valid JSON ({exc}); the download may be incomplete: "
            "download the model again"
        ) from exc
    if not isinstance(config, dict) or "model_type" not in config:
        raise ModelLoadError(f"{config_path} has no model_type; is this a transformers model?")
    has_weights = any((folder / name).is_file() for name in WEIGHT_FILES) or any(
        folder.glob("*.safetensors")
    )
    if not has_weights:
        raise ModelLoadError(
            f"{folder} has a config.json but no weights (looked for {', '.join(WEIGHT_FILES)} "
            "and *.safetensors); the download may be incomplete or only the config was copied"
        )
    return config


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _from_hf_cache(repo_id: str) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        path = snapshot_download(repo_id, local_files_only=True, allow_patterns=_HUB_PATTERNS)
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        return None
    return Path(str(path))


def _download(repo_id: str, looked: list[str]) -> Path:
    from huggingface_hub import snapshot_download

    logger.info("downloading %s from the Hugging Face Hub into %s", repo_id, _hf_cache_dir())
    try:
        path = Path(str(snapshot_download(repo_id, allow_patterns=_HUB_PATTERNS)))
    except Exception as exc:  # network errors, missing or gated repositories
        raise ModelNotFoundError(
            f"model {repo_id!r} is not available locally (looked in: {'; '.join(looked)}) and "
            f"downloading it from the Hugging Face Hub failed: {exc}",
            looked_in=tuple(looked),
        ) from exc
    check_model_folder(path)
    return path


def _not_found(ref: str, looked: list[str], weights_dir: Path, repo_id: str | None) -> Exception:
    name = Path(ref).name
    hub = repo_id or f"Qwen/{name}"
    places = "\n".join(f"  - {place}" for place in looked)
    offline = " (offline mode: HF_HUB_OFFLINE is set)" if hf_offline() else ""
    return ModelNotFoundError(
        f"model {ref!r} was not found{offline}. Looked in:\n{places}\n"
        "Get it with one of:\n"
        f"  hf download {hub} --local-dir {weights_dir / name}\n"
        "  set the model to a folder that holds config.json, the tokenizer and the weights\n"
        "  evoselfcode smoke-model DIR   (a tiny RANDOM-WEIGHT model for trying the tools)",
        looked_in=tuple(looked),
    )
