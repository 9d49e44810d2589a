"""Fixtures for pretraining tests: the tiny machine of ``pretrain_helpers`` and settings for
a model of seconds."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pretrain_helpers import make_sources

from evolution.pretrain.config import PretrainConfig


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_sources(tmp_path_factory.mktemp("machine"))


TINY_SHAPE = {
    "vocab_size": 512,
    "context": 64,
    "hidden_size": 32,
    "layers": 2,
    "heads": 2,
    "kv_heads": 1,
    "intermediate_size": 64,
    "batch_size": 4,
    "warmup_steps": 5,
    "lr": 3e-3,
    "tokens": 40 * 4 * 64,  # the schedule of 40 steps
    "threads": 1,
    "eval_every": 10,
    "eval_batches": 2,
    "checkpoint_every": 10,
}


@pytest.fixture(scope="session")
def tiny_config(sources: tuple[Path, Path]) -> Callable[..., PretrainConfig]:
    """``tiny_config(**changes)``: the tiny machine's corpus, a model of seconds."""
    std, site = sources

    def make(**changes) -> PretrainConfig:
        base = {
            "stdlib": str(std),
            "site_packages": str(site),
            "exclude_packages": "bigpkg",
            "heldout_package": "heldpkg",
            "heldout_percent": 20.0,
            **TINY_SHAPE,
        }
        return PretrainConfig(**{**base, **changes})

    return make


@pytest.fixture(scope="session")
def prepared_work(tiny_config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work folder whose data is prepared once; tests copy it (``work_copy``)."""
    from evolution.pretrain.data import prepare_data

    work = tmp_path_factory.mktemp("prepared") / "work"
    prepare_data(tiny_config(), work, lambda message: None)
    return work


@pytest.fixture
def work_copy(prepared_work: Path, tmp_path: Path) -> Path:
    """A fresh copy of the prepared work folder (no checkpoints yet)."""
    work = tmp_path / "work"
    shutil.copytree(prepared_work, work)
    return work


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models gain nothing from a second thread (see tests/models/conftest.py)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
