"""Pretraining checkpoints, published as the fine-tuning ones are (written aside, checksummed,
renamed into place: a kill at any moment leaves the whole checkpoint or none).

A checkpoint holds the weights (float32), the optimizer and scheduler states, torch's RNG
states and ``state.json``: step, windows consumed (the data position), tokens seen, training
seconds so far.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evolution.finetune.checkpoint import (
    STATE,
    find_resumable,
    list_checkpoints,
    publish_folder,
    rng_state,
    set_rng_state,
)
from evolution.pretrain.config import PretrainError

_PREFIX = "step-"


def save_checkpoint(
    work: Path, step: int, *, model: Any, optimizer: Any, scheduler: Any, state: dict, keep: int
) -> Path:
    """Write the checkpoint of ``step``; keep only the newest ``keep``."""
    import torch
    from safetensors.torch import save_file

    def write(folder: Path) -> None:
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        weights.pop("lm_head.weight", None)  # tied to the embedding
        save_file(weights, str(folder / "model.safetensors"))
        torch.save(optimizer.state_dict(), folder / "optimizer.pt")
        torch.save(scheduler.state_dict(), folder / "scheduler.pt")
        torch.save(rng_state(), folder / "rng.pt")
        (folder / STATE).write_text(json.dumps({**state, "step": step}), encoding="utf-8")

    path = publish_folder(work / "checkpoints" / f"{_PREFIX}{step:08d}", write)
    for old in list_checkpoints(work)[keep:]:
        shutil.rmtree(old.path, ignore_errors=True)
    return path


def load_latest(
    work: Path, *, model: Any, optimizer: Any, scheduler: Any, warn: Callable[[str], None]
) -> dict | None:
    """Restore the newest checkpoint that verifies; its state, or None to start afresh."""
    from safetensors.torch import load_file

    checkpoint = find_resumable(work, warn)
    if checkpoint is None:
        return None
    folder = checkpoint.path
    try:
        result = model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False)
        if result.unexpected_keys or set(result.missing_keys) - {"lm_head.weight"}:
            raise ValueError(f"weights do not fit the model: {result}")
        model.tie_weights()
        # Loaded to the CPU first: a GPU run's checkpoint resumes on a CPU and the other way
        # round (load_state_dict moves the optimizer's state to its parameters' device).
        optimizer.load_state_dict(_load(folder / "optimizer.pt"))
        scheduler.load_state_dict(_load(folder / "scheduler.pt"))
        set_rng_state(_load(folder / "rng.pt"))
        return json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise PretrainError(f"checkpoint {folder} cannot be loaded: {exc}") from exc


def _load(path: Path) -> Any:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)
