"""LSP features, one per module; each has ``register(server)``."""

from __future__ import annotations

from server.features import code_actions, commands, inline_completion, lifecycle
from server.server import EvoServer


def register_all(server: EvoServer) -> None:
    lifecycle.register(server)  # also registers the completion fallback when needed
    inline_completion.register(server)
    code_actions.register(server)
    commands.register(server)
