"""Shared fixtures: the tiny random-weight model and the local OpenAI-compatible test server."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Tests never reach a hub: every model is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent


def _smoke_cache_dir(config: pytest.Config) -> Path:
    """A per-version cache folder: rebuilt whenever the builder's source changes."""
    sources = [REPO_ROOT / "models" / name for name in ("smoke.py", "bpe.py")]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    return Path(config.cache.mkdir("evoselfcode")) / f"smoke-model-{digest}"


@pytest.fixture(scope="session")
def smoke_model_dir(pytestconfig: pytest.Config) -> Path:
    """Folder of the tiny Qwen2-architecture model. RANDOM WEIGHTS: its output is junk.

    Built once (~5 s) and cached between test sessions; built in a temporary folder and
    renamed into place, so concurrent test runs never see a half-written model.
    """
    from models.smoke import build_smoke_model

    target = _smoke_cache_dir(pytestconfig)
    if not (target / "config.json").is_file():
        staging = Path(tempfile.mkdtemp(prefix="smoke-", dir=target.parent))
        build_smoke_model(staging)
        try:
            staging.rename(target)
        except OSError:  # another session finished first
            shutil.rmtree(staging, ignore_errors=True)
    return target


@pytest.fixture
def test_server():
    """A fresh ``evolution.testserver.ScriptedServer`` on a free loopback port, per test.

    Point clients at ``test_server.base_url`` ("http://127.0.0.1:PORT/v1"); script answers with
    ``set_script(...)`` / ``add_rule(prompt=..., text=...)``; inject faults with
    ``inject(Fault...)``; read what was sent with ``requests`` / ``bodies(path)``. Unscripted
    requests get ``evolution.testserver.DEFAULT_TEXT``. Stopped when the test ends.
    """
    from evolution.testserver import ScriptedServer

    with ScriptedServer() as server:
        yield server
