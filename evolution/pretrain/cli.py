"""``evoselfcode pretrain``: train the project's own small code model from scratch.

Registration only builds the parser; torch, transformers and the corpus code load inside the
handler. Flags come from ``PretrainConfig``'s field metadata (help, bounds, groups).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

EPILOG = """\
The same command resumes: checkpoints go to OUT/.work (or --work-dir) every
--checkpoint-every steps and on Ctrl-C/SIGTERM; --max-tokens/--max-minutes end a slice
(exit 0) and the next run of the command continues it. Settings that shape the data or the
model must stay the same (--restart starts over); run settings may change between slices.

exit status: 0 done or slice ended, 1 error, 2 bad setting, 130/143 stopped by SIGINT/SIGTERM
(a checkpoint was written).

on a GPU machine: prepare here with --data-only, carry OUT/.work, run there with --device cuda.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from evolution.pretrain.config import GROUPS, PretrainConfig

    parser = subparsers.add_parser(
        "pretrain",
        help="train a small Qwen2-architecture code model from scratch on this machine's Python",
        description="Train a small Qwen2-architecture base model and its byte-level BPE "
        "tokenizer (Qwen2.5-Coder's special tokens and formats) on the Python source of this "
        "interpreter's standard library and installed packages: file-level FIM, repo-level "
        "and left-to-right samples. Writes a model folder that loads like any Qwen checkpoint, "
        "with its data manifest, held-out file list, training log and model card.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", help="model folder (created; refreshed at every checkpoint)")
    parser.add_argument("--work-dir", help="checkpoints and token files (default: OUT/.work)")
    parser.add_argument(
        "--data-only",
        action="store_true",
        help="prepare the corpus, tokenizer and token files, then stop",
    )
    parser.add_argument(
        "--restart", action="store_true", help="discard the checkpoints and start over"
    )
    parser.add_argument("--progress", choices=("bar", "json"), default="bar")
    hints = typing.get_type_hints(PretrainConfig)
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    for f in dataclasses.fields(PretrainConfig):
        kind = hints[f.name]
        kwargs: dict[str, Any] = {"dest": f.name, "default": f.default}
        kwargs["help"] = f"{f.metadata['help']} (default: {f.default!r})"
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs.update(type=kind, metavar=f.name.upper(), choices=f.metadata["choices"])
            if f.metadata["choices"]:
                kwargs.pop("metavar")
        groups[f.metadata["group"]].add_argument("--" + f.name.replace("_", "-"), **kwargs)
    parser.set_defaults(func=_pretrain)


def _pretrain(args: argparse.Namespace) -> int:
    from evolution.pretrain.config import PretrainConfig
    from evolution.pretrain.run import PretrainRequest, run_pretrain

    def run(stop: Any, say: Callable[[str], None]) -> dict[str, Any]:
        names = {f.name for f in dataclasses.fields(PretrainConfig)}
        config = PretrainConfig(**{k: v for k, v in vars(args).items() if k in names})
        request = PretrainRequest(
            out=Path(args.out),
            config=config,
            work=Path(args.work_dir) if args.work_dir else None,
            data_only=args.data_only,
            restart=args.restart,
            json_lines=args.progress == "json",
            argv=sys.argv[1:],
        )
        return run_pretrain(request, stop, say)

    return run_training_command("pretrain", args.progress == "json", run, _summary)


def run_training_command(
    command: str,
    json_lines: bool,
    run: Callable[[Any, Callable[[str], None]], dict[str, Any]],
    summary: Callable[[dict[str, Any]], str],
) -> int:
    """Run a training command (``pretrain``, ``chat-tune``): ``run(stop, say)`` does the work
    and returns its result. Progress goes to stderr, or as JSON lines with ``json_lines``; a
    ``PretrainError`` or any other failure ends with one error line and its exit status; a
    stop by signal exits with the signal's status (a checkpoint was written)."""
    import traceback

    from evolution.finetune.stopping import StopRequest
    from evolution.pretrain.config import PretrainError
    from models.progress import ProgressReporter

    events = ProgressReporter(None, command, json_lines=True) if json_lines else None
    stop = StopRequest()

    def say(message: str) -> None:
        if events is not None:
            events.emit("progress", message=message)
        else:
            print(message, file=sys.stderr, flush=True)

    try:
        result = run(stop, say)
    except PretrainError as exc:
        _report_error(events, str(exc))
        return exc.exit_code
    except Exception as exc:  # a bug or an environment problem: still end with an error line
        traceback.print_exc()
        _report_error(events, f"unexpected {type(exc).__name__}: {exc}")
        return 1
    if events is not None:
        events.result(**result)
    else:
        print(summary(result), file=sys.stderr)
    return stop.exit_code if result.get("status") == "stopped" else 0


def _report_error(events: Any, message: str) -> None:
    if events is not None:
        events.error(message)
    print(f"error: {message}", file=sys.stderr)


def _summary(result: dict[str, Any]) -> str:
    if result["status"] == "data-ready":
        return (
            f"data ready in {result['work_dir']}: {result['train_files']:,} files, "
            f"{result['train_tokens']:,} training tokens ({result['train_tokens_bytes']:,} bytes)"
        )
    heldout = result.get("heldout_loss")
    return (
        f"{result['status']} at step {result['step']:,}/{result['total_steps']:,} "
        f"({result['tokens']:,} tokens): loss {result.get('loss')}, held-out loss "
        f"{heldout if heldout is None else round(heldout, 4)}, {result.get('tok_s')} tokens/s "
        f"({(result.get('utilisation') or 0):.0%} of {result['matmul_gflops']} GFLOP/s); "
        f"model in {result['out']}"
    )
