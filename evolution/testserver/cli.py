"""``evoselfcode testserver``: run the scripted OpenAI-compatible server in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evolution.testserver.script import Script


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "testserver",
        help="run the local OpenAI-compatible test server (scripted answers, fault injection)",
        description="Serve POST /v1/chat/completions, POST /v1/completions, GET /v1/models and "
        "a custom route from a script, with a control API under /_control. The first line on "
        "stdout gives the base URL. Stop it with Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one")
    parser.add_argument(
        "--script",
        metavar="FILE",
        help="YAML or JSON script of rules (example: evolution/testserver/example.yaml)",
    )
    parser.add_argument(
        "--standin",
        choices=("train", "heldout"),
        help="instead of a script: answer as the generator and verifier stand-in over this "
        "split of the composed task family (evolution/testserver/standin), at --fault-rates",
    )
    parser.add_argument(
        "--fault-rates",
        default="",
        metavar="NAME=RATE,...",
        help="the stand-in's fault rates that differ from its defaults, e.g. wrong_code=0.3",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="added to every API request"
    )
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="require `Authorization: Bearer $VAR` (the key is read from this environment "
        "variable, never from the command line)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for fractional faults and the stand-in"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evolution.testserver import ScriptedServer, ScriptedServerError

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(f"error: environment variable {args.api_key_env} is not set", file=sys.stderr)
            return 2
    if args.latency < 0:
        print(f"error: --latency must be ≥ 0, got {args.latency}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        stream=sys.stderr,
    )
    if args.standin and args.script:
        print("error: give --script or --standin, not both", file=sys.stderr)
        return 2
    if args.fault_rates and not args.standin:
        print("error: --fault-rates applies to --standin only", file=sys.stderr)
        return 2
    try:
        script = _standin_script(args) if args.standin else args.script
        server = ScriptedServer(
            script,
            host=args.host,
            port=args.port,
            latency=args.latency,
            api_key=api_key,
            seed=args.seed,
        )
        server.start()
    except (ScriptedServerError, ValueError) as exc:  # a bad script, or bad fault rates
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(
        f"evoselfcode testserver listening on {server.base_url} (control: {server.control_url})",
        flush=True,
    )
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _standin_script(args: argparse.Namespace) -> Script:
    from evaluation.taskfamily import build_family
    from evolution.testserver.standin import FaultRates, build_standin

    rates = FaultRates.parse(args.fault_rates)
    return build_standin(build_family().split(args.standin), rates, seed=args.seed).script
