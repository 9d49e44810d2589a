"""``evoselfcode chat-tune``: an instruction tune of the small model trained here.

Registration only builds the parser; torch, transformers and the pair extraction load inside
the handler.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EPILOG = """\
The same command resumes: checkpoints go to OUT/.work (or --work-dir) every
--checkpoint-every steps and on Ctrl-C/SIGTERM; --max-minutes/--max-tokens end a slice (exit 0)
and the next run of the command continues it. --pairs, --epochs and the optimisation flags
must stay the same on resume (--restart starts over).

exit status: 0 done or slice ended, 1 error, 2 bad setting, 130/143 stopped by SIGINT/SIGTERM
(a checkpoint was written).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "chat-tune",
        help="instruction-tune the small model trained here on docstring → function pairs",
        description="Fine-tune all the weights of a model `evoselfcode pretrain` made on "
        "docstring → function pairs cut from the files it trained on, as ChatML turns worded "
        "as 'Generate code from this instruction' sends them (loss on the answers only). "
        "Pairs of its held-out files are never trained on. Writes a model folder with its "
        "pairs manifest, training log and card.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", help="model folder (created; refreshed at every checkpoint)")
    parser.add_argument(
        "--from",
        dest="base",
        default="models/evoselfcode-small",
        help="the base model folder (default: %(default)s)",
    )
    parser.add_argument("--pairs", type=int, default=0, help="training pairs (0: all)")
    parser.add_argument("--epochs", type=float, default=1.0, help="passes over the pairs")
    parser.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (AdamW)")
    parser.add_argument("--warmup-steps", type=int, default=20)
    parser.add_argument(
        "--min-lr-ratio", type=float, default=0.1, help="final / peak learning rate (cosine)"
    )
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument(
        "--batch-size", type=int, default=8, help="packed rows of the context length per step"
    )
    parser.add_argument("--seed", type=int, default=0, help="pair sample and data order")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all but one)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    parser.add_argument("--eval-every", type=int, default=50, help="held-out answer loss")
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="end this slice")
    parser.add_argument("--max-tokens", type=int, default=0, help="end this slice")
    parser.add_argument("--work-dir", help="checkpoints (default: OUT/.work)")
    parser.add_argument("--restart", action="store_true", help="discard the checkpoints")
    parser.add_argument("--progress", choices=("bar", "json"), default="bar")
    parser.set_defaults(func=_chat_tune)


SETTINGS = (
    "lr",
    "warmup_steps",
    "min_lr_ratio",
    "weight_decay",
    "batch_size",
    "seed",
    "threads",
    "device",
    "eval_every",
    "checkpoint_every",
    "max_minutes",
    "max_tokens",
)


def _chat_tune(args: argparse.Namespace) -> int:
    from evolution.chattune.run import ChatTuneRequest, run_chat_tune
    from evolution.pretrain.cli import run_training_command

    def run(stop: Any, say: Callable[[str], None]) -> dict[str, Any]:
        if args.pairs < 0 or args.epochs <= 0:
            raise _usage("--pairs must be at least 0 and --epochs above 0")
        request = ChatTuneRequest(
            out=Path(args.out),
            base=Path(args.base),
            pairs=args.pairs,
            epochs=args.epochs,
            settings={name: getattr(args, name) for name in SETTINGS},
            work=Path(args.work_dir) if args.work_dir else None,
            restart=args.restart,
            json_lines=args.progress == "json",
            argv=sys.argv[1:],
        )
        return run_chat_tune(request, stop, say)

    return run_training_command("chat-tune", args.progress == "json", run, _summary)


def _summary(result: dict[str, Any]) -> str:
    return (
        f"{result['status']} at step {result['step']:,}/{result['total_steps']:,}: loss "
        f"{result.get('loss')}, held-out answer loss {result.get('heldout_loss')}, "
        f"{result.get('tok_s')} tokens/s; model in {result['out']}"
    )


def _usage(message: str) -> Exception:
    from evolution.pretrain.config import ConfigError

    return ConfigError(message)
