"""Subcommands of the model runtime: ``smoke-model`` and ``complete``."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    smoke = subparsers.add_parser(
        "smoke-model",
        help="build the tiny random-weight Qwen2 model used by tests and the demo",
        description="Build a tiny Qwen2-architecture model with RANDOM WEIGHTS and a locally "
        "trained byte-level BPE tokenizer that carries every Qwen2.5-Coder special token and a "
        "ChatML chat template. Its completions are junk; it exists to exercise the code paths.",
    )
    smoke.add_argument("dir", help="output folder (created if missing)")
    smoke.add_argument("--hidden-size", type=int, default=64)
    smoke.add_argument("--layers", type=int, default=2)
    smoke.add_argument("--intermediate-size", type=int, default=256)
    smoke.add_argument("--heads", type=int, default=4)
    smoke.add_argument("--kv-heads", type=int, default=2)
    smoke.add_argument("--seed", type=int, default=0)
    smoke.set_defaults(func=_smoke_model)


def _smoke_model(args: argparse.Namespace) -> int:
    from models.smoke import build_smoke_model

    path = build_smoke_model(
        args.dir,
        hidden_size=args.hidden_size,
        num_layers=args.layers,
        intermediate_size=args.intermediate_size,
        num_heads=args.heads,
        num_kv_heads=args.kv_heads,
        seed=args.seed,
    )
    print(f"smoke model (random weights) written to {path}", file=sys.stderr)
    print(json.dumps({"path": str(path), "random_weights": True}))
    return 0
