"""The ``evoselfcode`` command: one console script, one subcommand per capability.

Each package registers its own subcommands through ``register(subparsers)`` in its ``cli``
module. Registration only builds argparse parsers; heavy imports (torch, transformers) happen
inside the handlers, so ``evoselfcode --help`` and ``evoselfcode serve`` start at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules whose ``register(subparsers)`` adds subcommands, in the order --help lists them.
SUBCOMMAND_MODULES = (
    "server.serve_cli",  # serve
    "models.cli",  # smoke-model, complete
    "evolution.cli",  # evolve
    "evolution.workspace.cli",  # workspace-data
    "evolution.testserver.cli",  # testserver
    "evolution.datagen.cli",  # datagen
    "evolution.finetune.cli",  # finetune, adapters
    "evolution.pretrain.cli",  # pretrain
    "evolution.chattune.cli",  # chat-tune
    "evaluation.cli",  # eval
    "server.demo.cli",  # demo
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evoselfcode",
        description="A self-improving code assistant: local completions over LSP, "
        "self-evolution, LoRA fine-tuning and HumanEval evaluation.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from models.environment import (
        EXIT_INCOMPATIBLE,
        IncompatibleEnvironmentError,
        check_environment,
    )
    from server.runs.child import exit_with_parent

    parser = build_parser()
    args = parser.parse_args(argv)
    exit_with_parent()  # a run the language server started ends with the server
    if args.command != "serve":  # the server says it in its status and log instead
        try:
            check_environment()
        except IncompatibleEnvironmentError as exc:
            print(f"evoselfcode: {exc}", file=sys.stderr)
            return EXIT_INCOMPATIBLE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
