"""LSP features, one per module; each has ``register(server)``."""

from __future__ import annotations

from server.features import (
    api_keys,
    code_actions,
    commands,
    inline_completion,
    lifecycle,
    outcomes,
    proposals,
    runs,
    self_evolve,
)
from server.server import EvoServer


def register_all(server: EvoServer) -> None:
    lifecycle.register(server)  # also registers the completion fallback when needed
    inline_completion.register(server)
    outcomes.register(server)
    code_actions.register(server)
    commands.register(server)
    self_evolve.register(server)
    proposals.register(server)
    api_keys.register(server)
    runs.register(server)
