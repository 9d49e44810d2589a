"""Subcommands of the model runtime: ``smoke-model`` and ``complete``."""

from __future__ import annotations

import argparse
import json
import os
import sys

from models.paths import DEFAULT_MODEL
from models.types import BACKENDS

API_KEY_ENV = "EVOSELFCODE_API_KEY"


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

    complete = subparsers.add_parser(
        "complete",
        help="fill in the middle at a position of a file (prints the infill)",
        description="Print the model's infill at LINE:COL of FILE: the text before the "
        "position is the prefix, the rest the suffix. LINE and COL are 1-based as editors show "
        "them; COL counts characters (COL = line length + 1 is the end of the line). The infill "
        "goes to stdout; model facts and timings go to stderr.",
    )
    complete.add_argument("file", help="source file (UTF-8; other bytes are replaced and reported)")
    complete.add_argument("--line", type=int, required=True, help="1-based line number")
    complete.add_argument("--col", type=int, required=True, help="1-based column (characters)")
    complete.add_argument(
        "--model",
        default=os.environ.get("EVOSELFCODE_MODEL", DEFAULT_MODEL),
        help="folder, name under the weights folder, or hub id (default: $EVOSELFCODE_MODEL "
        f"or {DEFAULT_MODEL})",
    )
    complete.add_argument("--models-dir", help="weights folder for bare model names")
    complete.add_argument("--max-tokens", type=int, default=64)
    complete.add_argument("--temperature", type=float, default=0.0, help="0 is greedy")
    complete.add_argument("--top-p", type=float, default=0.95)
    complete.add_argument("--context-tokens", type=int, default=1536, help="prompt budget")
    complete.add_argument("--prefix-share", type=float, default=0.75)
    complete.add_argument("--timeout", type=float, default=60.0, help="seconds (wall clock)")
    complete.add_argument("--repo-name", help="use Qwen's repo-level format with this repo name")
    complete.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    complete.add_argument(
        "--dtype", default="auto", choices=("auto", "bfloat16", "float16", "float32")
    )
    complete.add_argument(
        "--quantization",
        default="auto",
        choices=("auto", "none", "16bit", "8bit", "4bit"),
        help="auto: float16 weights on a CPU (F16 on llama.cpp), as loaded on a GPU",
    )
    complete.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="auto: llama.cpp on a CPU when the llama extra is installed, else local "
        "(transformers); remote: an OpenAI-compatible server",
    )
    complete.add_argument(
        "--remote-url",
        default="http://127.0.0.1:8000/v1",
        help=f"OpenAI-compatible base URL for --backend remote (API key: ${API_KEY_ENV})",
    )
    complete.add_argument("--remote-model", help="model name sent to the remote server")
    complete.add_argument("--json", action="store_true", help="print one JSON object instead")
    complete.set_defaults(func=_complete)


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


def _complete(args: argparse.Namespace) -> int:
    from models.complete import CompletionRequest, run_completion
    from models.errors import ModelError

    request = CompletionRequest(
        file=args.file,
        line=args.line,
        col=args.col,
        model=args.model,
        models_dir=args.models_dir,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        context_tokens=args.context_tokens,
        prefix_share=args.prefix_share,
        timeout_s=args.timeout,
        repo_name=args.repo_name,
        device=args.device,
        dtype=args.dtype,
        quantization=args.quantization,
        backend=args.backend,
        remote_url=args.remote_url,
        remote_model=args.remote_model,
        api_key=os.environ.get(API_KEY_ENV) or None,
    )
    try:
        return run_completion(request, as_json=args.json)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
