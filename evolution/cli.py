"""``evoselfcode evolve``: run an instructions file through the self-evolve gates into the store.

The file format and the resume rules are in ``evolution.evolve.batch``. Keys come from
``EVOSELFCODE_GENERATOR_API_KEY`` and ``EVOSELFCODE_VERIFIER_API_KEY`` (never from flags, so
they stay out of shell history and process lists).
"""

from __future__ import annotations

import argparse

from evolution.evolve.gates import GATES_OF_POLICY
from evolution.evolve.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_GENERATOR_MODEL,
    DEFAULT_VERIFIER_MODEL,
)

_FORMAT = """\
instructions file (JSONL, one object per line; blank and # lines skipped):
  {"id": "t1", "instruction": "Return the n-th Fibonacci number."}
  {"id": "t2", "instruction": "Return 0.0 for an empty list.", "function": "mean",
   "code": "def mean(xs):\\n    return sum(xs) / len(xs)\\n", "path": "stats.py"}
  id: unique; instruction: the task (without code, a new function is written);
  code: source with the function to improve (function names it, else the first);
  path: recorded as the pair's context.

exit status: 0 finished, 1 unfinished: stopped early, or errors left instructions undone
(rerun to resume), 2 nothing run.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    evolve = subparsers.add_parser(
        "evolve",
        help="run many instructions through the generator, gates and verifier into the store",
        description="Run every instruction of a JSONL file (one {id, instruction, code?, "
        "function?, path?} per line) through the self-evolve flow, several at a time, and "
        "record the pairs that pass every gate (see --gates) in the training-data store "
        "(source: batch). "
        "Resumable: finished ids are skipped on the next run. API keys come from "
        "$EVOSELFCODE_GENERATOR_API_KEY and $EVOSELFCODE_VERIFIER_API_KEY.",
        epilog=_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = evolve.add_argument
    add("--instructions", required=True, metavar="FILE.jsonl", help="the instructions file")
    add("--data-dir", help="data folder (default: $EVOSELFCODE_DATA_DIR, else ~/.local/share)")
    add("--generator-url", default=DEFAULT_BASE_URL, help="OpenAI-compatible base URL")
    add("--generator-model", default=DEFAULT_GENERATOR_MODEL)
    add("--verifier-url", help="default: the generator's URL")
    add("--verifier-model", default=DEFAULT_VERIFIER_MODEL)
    add("--concurrency", type=positive_int, default=4, help="instructions in flight")
    add("--sandbox-workers", type=positive_int, help="default: min(concurrency, CPU count)")
    add("--request-timeout", type=_positive_float, default=120.0, help="seconds per request")
    add("--max-retries", type=_count, default=3, help="retries of a failed request")
    add("--test-timeout", type=_positive_float, default=10.0, help="seconds for the tests")
    add("--temperature", type=float, default=0.2, help="generator sampling temperature")
    add("--max-tokens", type=positive_int, default=2048, help="longest generator reply")
    add("--min-confidence", type=float, default=0.5, help="least verifier P(yes) to pass")
    add(
        "--require-confidence",
        action="store_true",
        help="reject when the verifier returns no logprobs (default: decide from its text)",
    )
    add(
        "--allow-guard-only",
        action="store_true",
        help="run generated tests even where the kernel refuses the sandbox's namespaces "
        "(only Landlock, seccomp and the in-process guard then hold them; default: refuse)",
    )
    add(
        "--gates",
        choices=tuple(GATES_OF_POLICY),
        default="all",
        help="gates a reply must pass to be recorded: all (default), syntax (reply and "
        "syntax only) or none (any reply with code). The last two measure what the gates are "
        "worth: their records say so (provenance.gate_policy); give them their own --data-dir",
    )
    add("--max-consecutive-errors", type=positive_int, default=10, help="then stop; rerun")
    add("--progress", choices=("bar", "json"), default="bar", help="json: one line per event")
    evolve.set_defaults(func=_evolve)


def _evolve(args: argparse.Namespace) -> int:
    import asyncio

    from evolution.evolve.batch_cli import run_from_args

    return asyncio.run(run_from_args(args))


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return number
