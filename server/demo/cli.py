"""The ``demo`` subcommand."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolution.efficacy.loop import DEMO


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the whole loop on the shipped small model and the scripted test server",
        description="Run the whole loop end to end: the language server's inline completion, "
        "self-evolving a function and accepting it, a batch evolve and a datagen pass into the "
        "training-data store, LoRA fine-tuning with gated promotion, a HumanEval "
        "evaluation, and a short measurement of self-evolution (held-out pass@1 before and "
        "after fine-tuning on gated and ungated pairs); then print a summary and write "
        "OUT/report.html. The completion model is "
        "the small model the repository ships (models/evoselfcode-small, trained here; "
        "nowhere near Qwen2.5-Coder) and a scripted OpenAI-compatible server stands in for "
        "the 32B generator and the 14B verifier.",
    )
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder")
    demo.add_argument("--tasks", type=int, default=4, help="HumanEval tasks to evaluate")
    demo.add_argument(
        "--efficacy-tasks",
        type=_count,
        default=DEMO.train_tasks,
        help="training instructions of the self-evolution measurement; a third as many "
        "held-out tasks are scored (0: skip it)",
    )
    demo.set_defaults(func=_demo)


def _count(value: str) -> int:
    number = int(value)
    if number < 0:  # a negative count would slice the task family from its end
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return number


def _demo(args: argparse.Namespace) -> int:
    from server.demo.run import main

    return main(args.out.resolve(), args.tasks, args.efficacy_tasks)
