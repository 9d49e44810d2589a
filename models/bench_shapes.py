"""Named shapes of RANDOM-WEIGHT models for benchmarks, built once and kept in a cache folder.

Timings depend on the shape, not on the weights, so a random model with a real model's shape
measures what the runtime costs without downloading anything. Its text output is junk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

# keyword arguments of models.smoke.build_smoke_model
SHAPES: dict[str, dict[str, Any]] = {
    # the benchmark size: fast enough for a 2-core CPU
    "bench": dict(
        hidden_size=512, num_layers=8, intermediate_size=1408, num_heads=8, num_kv_heads=2
    ),
    # Qwen2.5-Coder-0.5B's config.json (tied embeddings, 151,936 vocabulary rows)
    "qwen2.5-coder-0.5b": dict(
        hidden_size=896,
        num_layers=24,
        intermediate_size=4864,
        num_heads=14,
        num_kv_heads=2,
        vocab_size=151936,
    ),
    # Qwen2.5-Coder-1.5B's config.json (tied embeddings, 151,936 vocabulary rows)
    "qwen2.5-coder-1.5b": dict(
        hidden_size=1536,
        num_layers=28,
        intermediate_size=8960,
        num_heads=12,
        num_kv_heads=2,
        vocab_size=151936,
    ),
}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of every benchmark of a random model: its shape, device, dtype and threads."""
    parser.add_argument("--shape", default="bench", choices=sorted(SHAPES))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (1: steady timings on a shared machine; 0: torch's default)",
    )


def set_threads(threads: int) -> int:
    """Set torch's CPU threads (0 keeps its default); return the number in use.

    On a 2-core machine shared with other work, two threads that wait on each other measured
    up to 20x slower per decoded token than one thread.
    """
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def bench_model_dir(shape: str, cache_dir: str | Path | None = None) -> Path:
    """The folder of the random model of ``shape``, built on first use."""
    from models.smoke import build_smoke_model

    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    root = Path(cache_dir or os.environ.get("EVOSELFCODE_BENCH_CACHE") or tempfile.gettempdir())
    target = root / "evoselfcode-bench-models" / shape
    stamp = target / "shape.json"
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == SHAPES[shape]:
        return target
    staging = Path(
        tempfile.mkdtemp(prefix=f"{shape}-", dir=target.parent if target.parent.exists() else None)
    )
    build_smoke_model(staging, seed=0, **SHAPES[shape])
    (staging / "shape.json").write_text(json.dumps(SHAPES[shape]), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(staging), target)
    return target
