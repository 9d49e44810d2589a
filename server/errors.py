"""The language server's exceptions.

Messages say what happened, where, and what the user can do. Handlers turn them into empty
results with a reason (completions) or JSON-RPC errors (commands); none of them stops the server.
"""

from __future__ import annotations


class ServerError(Exception):
    """Base of every error raised by the ``server`` package."""


class SettingsError(ServerError):
    """A setting cannot be used: wrong type, out of range, or naming something that is not there."""


class DocumentError(ServerError):
    """A request names a document the client never opened (or closed), or a position outside it."""


class InstructionError(ServerError):
    """An instruction cannot be run: nothing to read at the range, no code in the answer, ..."""
