"""Logging: our packages' records go to the client as ``window/logMessage``.

Records come from any thread (the model thread logs generation timings); they are handed to
the event loop, which alone writes to the client. pygls' own loggers stay at WARNING: at
INFO they print every message body, documents included. pygls also logs a traceback for every
JSON-RPC error a handler raises on purpose (a stale proposal, a cancelled run): those are
answers, not faults, and ``AnsweredErrors`` keeps them out of the log. Its read loop logs one
for every body that is no JSON, which the protocol answers and logs in one line itself:
``UnparsableMessages`` drops it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError

from server.envelope import UNPARSABLE

FORWARDED_LOGGERS = ("server", "models", "evolution", "evaluation")
# The loggers pygls's read loop (pygls.io_.run_async) is given: by start_io, and by serve_tcp.
READ_LOOP_LOGGERS = ("pygls.server", "server.tcp")
LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}


def message_type(level: int) -> types.MessageType:
    if level >= logging.ERROR:
        return types.MessageType.Error
    if level >= logging.WARNING:
        return types.MessageType.Warning
    if level >= logging.INFO:
        return types.MessageType.Info
    return types.MessageType.Log  # LSP 3.18's Debug type is unknown to older clients


class ClientLogHandler(logging.Handler):
    """Sends each record through ``send`` (which must be safe to call from any thread)."""

    def __init__(self, send: Callable[[types.LogMessageParams], None]):
        super().__init__()
        self._send = send
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            params = types.LogMessageParams(
                type=message_type(record.levelno), message=self.format(record)
            )
            self._send(params)
        except Exception:  # a log line must never break the caller
            self.handleError(record)


class AnsweredErrors(logging.Filter):
    """Drops pygls' tracebacks of JSON-RPC errors raised on purpose (sent to the client)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, JsonRpcException) or isinstance(error, JsonRpcInternalError)


class UnparsableMessages(logging.Filter):
    """Drops pygls's traceback of a body that is no JSON (EvoProtocol.reject_unparsable)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (record.msg == "Unable to handle message" and isinstance(error, UNPARSABLE))


_ANSWERED_ERRORS = AnsweredErrors()
_UNPARSABLE_MESSAGES = UnparsableMessages()


def configure_logging(level: str, handler: logging.Handler | None = None) -> None:
    """Set our loggers to ``level``; stderr gets warnings and errors (seen before connect)."""
    numeric = LEVELS.get(level, logging.INFO)
    for name in FORWARDED_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(numeric)
        if handler is not None and handler not in logger.handlers:
            logger.addHandler(handler)
    for name in ("pygls", "pytest_lsp"):
        logging.getLogger(name).setLevel(logging.WARNING)
    rpc_logger = logging.getLogger("pygls.protocol.json_rpc")
    if _ANSWERED_ERRORS not in rpc_logger.filters:
        rpc_logger.addFilter(_ANSWERED_ERRORS)
    for name in READ_LOOP_LOGGERS:
        read_loop_logger = logging.getLogger(name)
        if _UNPARSABLE_MESSAGES not in read_loop_logger.filters:
            read_loop_logger.addFilter(_UNPARSABLE_MESSAGES)
    root = logging.getLogger()
    if not root.handlers:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setLevel(logging.WARNING)
        stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(stderr)
