"""Models for the runtime's tests. All have RANDOM WEIGHTS: they test code paths, not quality.

``lively_model_dir`` keeps the smoke model's tokenizer but draws its weights with a larger
spread (std 0.5 instead of 0.02): the smoke model's greedy output is one token repeated or an
immediate end-of-text, which would let equality tests pass without comparing anything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models gain nothing from a second thread, and on a 2-core machine shared with other
    work two threads waiting on each other measured up to 20x slower. Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def lively_model_dir(smoke_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out = tmp_path_factory.mktemp("lively-model")
    config = Qwen2Config.from_pretrained(smoke_model_dir)
    config.initializer_range = 0.5
    torch.manual_seed(1234)
    Qwen2ForCausalLM(config).save_pretrained(out)
    for item in smoke_model_dir.iterdir():
        if item.is_file() and item.suffix != ".safetensors" and item.name != "config.json":
            shutil.copy(item, out / item.name)  # tokenizer, generation config, smoke marker
    return out


@pytest.fixture(scope="module")
def lively(lively_model_dir: Path):
    """The lively model in float32, so cached/batched/uncached logits compare exactly."""
    from models import load_model

    model = load_model(lively_model_dir, dtype="float32")
    yield model
    model.close()


@pytest.fixture(scope="module")
def lively_uncached(lively):
    """A second runtime over the same weights with prefix reuse off: the reference."""
    from models.local import LocalModel

    return LocalModel(lively.engine, lively.tokenizer, lively.info, prefix_cache=False)


@pytest.fixture(scope="session")
def source_text() -> str:
    """Real Python source, several thousand tokens long."""
    import json.decoder
    import textwrap

    files = (json.decoder.__file__, textwrap.__file__)
    return "".join(Path(f).read_text(encoding="utf-8") for f in files)
