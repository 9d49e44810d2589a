"""Fixtures for fine-tuning tests: synthetic training pairs and a config for the tiny model.

Every model here is the smoke model: RANDOM WEIGHTS. Its losses start near ln(vocab) ≈ 8.3,
so "the loss fell" and "the gate refused a harmed adapter" are measured against that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from finetune_helpers import synthetic_pairs, write_jsonl

from evolution.finetune.config import FinetuneConfig


@pytest.fixture
def pairs_file(tmp_path: Path) -> Callable[..., Path]:
    """``pairs_file(count, body_lines=1)``: a JSONL of synthetic pairs in ``tmp_path``."""

    def make(count: int = 24, *, body_lines: int = 1, name: str = "pairs.jsonl") -> Path:
        return write_jsonl(tmp_path / name, synthetic_pairs(count, body_lines=body_lines))

    return make


@pytest.fixture
def tiny_config(smoke_model_dir: Path, tmp_path: Path) -> Callable[..., FinetuneConfig]:
    """``tiny_config(**changes)``: settings sized for the smoke model (seconds per run)."""

    def make(**changes) -> FinetuneConfig:
        base = {
            "base_model": str(smoke_model_dir),
            "device": "cpu",
            "threads": 1,  # tiny model: more threads only add overhead (and fight other tests)
            "dtype": "float32",
            "max_length": 256,
            "min_records": 4,
            "eval_share": 0.2,
            "batch_size": 2,
            "gradient_accumulation": 1,
            "learning_rate": 3e-3,
            "epochs": 2.0,
            "lora_dropout": 0.0,
            "warmup_ratio": 0.0,
            "checkpoint_every": 2,
            "eval_tasks": 2,
            "save_path": str(tmp_path / "run"),
        }
        base.update(changes)
        return FinetuneConfig.from_mapping(base)

    return make
