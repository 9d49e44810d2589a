"""Checkpoints that survive ``kill -9``: written aside, checksummed, then renamed into place.

A checkpoint is a folder ``{run}/checkpoints/step-00000050/`` holding the LoRA adapter (peft's
files), the optimizer, the LR scheduler, the RNG states, ``state.json`` (step, losses, tokens
seen; the step alone fixes the data position, see ``batching.py``) and, written last,
``manifest.json`` with the SHA-256 of every other file. The folder is built under a temporary
name, every file is fsynced, and one ``rename`` publishes it: a kill at any moment leaves
either the whole checkpoint or none. A checkpoint whose manifest is missing or whose checksums
do not match (a disk error, a hand edit) is reported and skipped for the one before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.finetune.errors import CheckpointError

MANIFEST = "manifest.json"
STATE = "state.json"
_PREFIX = "step-"


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int


def checkpoints_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def list_checkpoints(run_dir: Path) -> list[Checkpoint]:
    """Published checkpoints, newest first (temporary folders are not listed)."""
    root = checkpoints_dir(run_dir)
    found = []
    if root.is_dir():
        for child in root.iterdir():
            suffix = child.name.removeprefix(_PREFIX)
            if child.name.startswith(_PREFIX) and suffix.isdigit() and child.is_dir():
                found.append(Checkpoint(child, int(suffix)))
    return sorted(found, key=lambda c: c.step, reverse=True)


def publish_folder(destination: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(staging)``, add a manifest, fsync, and rename the folder to ``destination``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(f".tmp-{destination.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    write(staging)
    files = {p.name: _sha256(p) for p in sorted(staging.iterdir()) if p.is_file()}
    (staging / MANIFEST).write_text(json.dumps({"files": files}, indent=1), encoding="utf-8")
    for path in staging.iterdir():
        _fsync(path)
    _fsync(staging)
    if destination.exists():  # the same step saved again (e.g. a stop right after a save)
        old = destination.with_name(f".old-{destination.name}-{os.getpid()}")
        os.rename(destination, old)
        shutil.rmtree(old, ignore_errors=True)
    os.rename(staging, destination)
    _fsync(destination.parent)
    return destination


def save_checkpoint(
    run_dir: Path,
    step: int,
    *,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    keep: int,
) -> Checkpoint:
    """Write the checkpoint of ``step`` and delete all but the newest ``keep``."""
    import torch

    def write(folder: Path) -> None:
        model.save_pretrained(str(folder))
        torch.save(optimizer.state_dict(), folder / "optimizer.pt")
        torch.save(scheduler.state_dict(), folder / "scheduler.pt")
        torch.save(rng_state(), folder / "rng.pt")
        (folder / STATE).write_text(json.dumps({**state, "step": step}), encoding="utf-8")

    path = publish_folder(checkpoints_dir(run_dir) / f"{_PREFIX}{step:08d}", write)
    for old in list_checkpoints(run_dir)[keep:]:
        shutil.rmtree(old.path, ignore_errors=True)
    return Checkpoint(path, step)


def verify_folder(folder: Path) -> None:
    """Raise :class:`CheckpointError` unless every file matches the manifest."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{folder.name}: no readable {MANIFEST} ({exc})") from exc
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{folder.name}: {name} is missing")
        if _sha256(path) != digest:
            raise CheckpointError(f"{folder.name}: {name} does not match its checksum")


def find_resumable(run_dir: Path, warn: Callable[[str], None]) -> Checkpoint | None:
    """The newest checkpoint that verifies; each corrupt one is reported through ``warn``."""
    corrupt = 0
    for checkpoint in list_checkpoints(run_dir):
        try:
            verify_folder(checkpoint.path)
        except CheckpointError as exc:
            corrupt += 1
            warn(f"checkpoint {exc} — skipping it")
            continue
        if corrupt:
            warn(f"resuming from the previous checkpoint, {checkpoint.path.name}")
        return checkpoint
    if corrupt:
        warn("no usable checkpoint is left: training starts over from step 0")
    return None


def load_checkpoint(checkpoint: Checkpoint, *, model: Any, optimizer: Any, scheduler: Any):
    """Restore adapter, optimizer, scheduler and RNG from a verified checkpoint; return state."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = checkpoint.path
    try:
        set_peft_model_state_dict(model, load_file(str(folder / "adapter_model.safetensors")))
        optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
        set_rng_state(torch.load(folder / "rng.pt", weights_only=True))
        return json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{folder.name} cannot be loaded: {exc}") from exc


def rng_state() -> dict[str, Any]:
    """torch's (and CUDA's) random state: a resumed run draws the same numbers."""
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    """fsync a file or a folder (where the platform allows folders to be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
