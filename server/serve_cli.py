"""The ``serve`` subcommand: the language server on stdio (editors) or TCP (debugging)."""

from __future__ import annotations

import argparse
import os
import sys


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:2087), got {value!r}")
    return host, int(port)


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the language server (LSP on stdio, or --tcp HOST:PORT)",
        description="Run the EvoSelfCode language server: inline completions and infill from "
        "the local model, code from instructions, status notifications. Editors start it on "
        "stdio; settings arrive from the client (initializationOptions and "
        "workspace/configuration).",
    )
    serve.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        type=_host_port,
        help="listen for one client on TCP instead of stdio",
    )
    serve.add_argument(
        "--log-level",
        choices=("error", "warning", "info", "debug"),
        help="log level until the client's evoselfcode.logLevel arrives",
    )
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from server.features import register_all
    from server.server import EvoServer
    from server.tcp import serve_tcp

    server = EvoServer()
    register_all(server)
    if args.log_level:
        server.apply_settings({"logLevel": args.log_level})
    try:
        if args.tcp:
            host, port = args.tcp
            serve_tcp(server, host, port)
            return 0
        # stdout carries the protocol: anything a library prints must go to stderr instead.
        protocol_out = sys.stdout.buffer
        sys.stdout = sys.stderr
        server.start_io(sys.stdin.buffer, protocol_out)
        return 0
    finally:
        server.stop()  # a client that hung up without `shutdown`: stop the runs all the same
