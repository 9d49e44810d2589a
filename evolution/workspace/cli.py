"""The ``workspace-data`` subcommand: what a workspace's completion adapter would learn from."""

from __future__ import annotations

import argparse

from evolution.cli import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    workspace = subparsers.add_parser(
        "workspace-data",
        help="show what a workspace's completion adapter would learn from (nothing is trained)",
        description="Scan a workspace folder as completion fine-tuning would: its Python files "
        "(.gitignore respected; generated, vendored, minified, huge and secret files left "
        "out, each with its reason), the files held out by path for the gate, the FIM "
        "examples, and the accepted-and-kept completions of the outcome log as targets.",
    )
    add = workspace.add_argument
    add("folder", metavar="DIR", help="the workspace folder")
    add("--data-dir", help="data folder of the outcome log (default: $EVOSELFCODE_DATA_DIR)")
    add("--heldout-share", type=_share, help="share of files held out by path (default 0.1)")
    add("--max-file-kib", type=positive_int, help="larger files are left out (default 512)")
    add("--context-tokens", type=positive_int, help="training window of examples (default 512)")
    add("--json", action="store_true", help="print everything as one JSON object")
    workspace.set_defaults(func=_workspace_data)


def _workspace_data(args: argparse.Namespace) -> int:
    from evolution.workspace.report import run_from_args

    return run_from_args(args)


def _share(value: str) -> float:
    number = float(value)
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {value}")
    return number
