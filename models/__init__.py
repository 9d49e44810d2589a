"""The model runtime: resolution and loading, prompts, generation, adapters, remote backend.

Importing this package does not import torch, transformers or httpx; ``load_model`` does.
"""

from __future__ import annotations

from models.errors import (
    InvalidRequestError,
    ModelError,
    ModelLoadError,
    ModelNotFoundError,
    RemoteBackendError,
    UnsupportedError,
)
from models.loading import load_model
from models.prompts import (
    InfillContext,
    InfillPrompt,
    Prompt,
    build_infill_prompt,
    chat_prompt,
    fim_prompt,
    repo_fim_prompt,
)
from models.speculation import Speculation
from models.types import CancelToken, CodeModel, Generation, ModelInfo, SamplingParams

__all__ = [
    "CancelToken",
    "CodeModel",
    "Generation",
    "InfillContext",
    "InfillPrompt",
    "InvalidRequestError",
    "ModelError",
    "ModelInfo",
    "ModelLoadError",
    "ModelNotFoundError",
    "Prompt",
    "RemoteBackendError",
    "SamplingParams",
    "Speculation",
    "UnsupportedError",
    "build_infill_prompt",
    "chat_prompt",
    "fim_prompt",
    "load_model",
    "repo_fim_prompt",
]
