"""``evoselfcode datagen``: the seed-002 data-generation pipeline (names, then functions)."""

from __future__ import annotations

import argparse

_EPILOG = """\
stages:
  names   stage A: function names from the FIM and left-to-right prompts (A/B statistics)
  code    stage B: a function for every kept name (and description), filtered
  all     names, then code (default)
  import  the filtered functions into the training-data store (source: datagen)

outputs (io.out_names_dir, io.out_code_dir): raw.jsonl, filtered.jsonl, metrics.json, and
code/scored.jsonl when filters.scoring.enabled. Records are written as requests finish to
parts/ beside them; a run that was stopped or killed resumes where it was when the same
command is run again. Relative paths are taken from the current directory.

several machines: each runs `--stage names --shard i/N` (1 <= i <= N) on the same config;
gather their parts/ folders into one, run `--stage names --merge`; then the same for code.

exit status: 0 done; 1 stopped early or requests failed (run again to resume); 2 bad config,
flags or input (nothing run).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "datagen",
        help="generate training data: function names (FIM vs left-to-right), then bodies",
        description="Generate Python functions with a remote model (OpenAI-compatible or a "
        "custom endpoint): stage A proposes function names with a FIM and a left-to-right "
        "prompt and compares them; stage B writes a function for each kept name. Settings "
        "come from a YAML file (see configs/datagen.yaml); the API key from the environment "
        "variable it names (api.api_key_env).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--config", required=True, metavar="FILE", help="the YAML config (configs/datagen.yaml)")
    add("--stage", choices=("names", "code", "all", "import"), default="all")
    add("--shard", metavar="i/N", help="generate only this machine's share (no outputs yet)")
    add("--merge", action="store_true", help="only turn the parts on disk into the outputs")
    add("--data-dir", help="import: data folder of the store (default: $EVOSELFCODE_DATA_DIR)")
    add("--progress", choices=("bar", "json"), default="bar", help="json: one line per event")
    parser.set_defaults(func=_datagen)


def _datagen(args: argparse.Namespace) -> int:
    from evolution.datagen.command import run_command

    return run_command(args)
