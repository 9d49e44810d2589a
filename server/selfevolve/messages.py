"""How self-evolve results read to people: errors with what to do, prompts, diffs for logs."""

from __future__ import annotations

import difflib

from evolution.clients.secret import GENERATOR_API_KEY_ENV, VERIFIER_API_KEY_ENV
from evolution.evolve import EvolveResult

SET_KEY_HINT = (
    'Set the key with the command "EvoSelfCode: Set API key" (evoselfcode.setApiKeys), or in '
    f"the environment variables {GENERATOR_API_KEY_ENV} / {VERIFIER_API_KEY_ENV} of the "
    "server's process."
)


def error_message(result: EvolveResult) -> str:
    """The flow's error, with how to fix a missing or wrong key."""
    error = result.error
    if error is None:
        return result.reason
    if error.kind == "AuthenticationError":
        return f"{error.message} {SET_KEY_HINT}"
    return error.message


def subject(result: EvolveResult) -> str:
    name = result.function_name
    return f"`{name}`" if name else "the new function"


def question(result: EvolveResult) -> str:
    """What a client without its own UI asks (``window/showMessageRequest``)."""
    verifier = next((g for g in result.gates if g.name == "verifier"), None)
    execution = next((g for g in result.gates if g.name == "execution"), None)
    checks = "; ".join(g.reason for g in (execution, verifier) if g is not None)
    return (
        f"EvoSelfCode: the self-evolved {subject(result)} passed every gate ({checks}). "
        "Apply it and record it as a training pair? (The diff is in the server log.)"
    )


def rejection(result: EvolveResult) -> str:
    return (
        f"EvoSelfCode: the self-evolved {subject(result)} was rejected by the "
        f"{result.rejected_by} gate: {result.reason}. Nothing was recorded."
    )


def diff(original: str, proposed: str, path: str) -> str:
    """A unified diff of the proposal, for the log of clients that cannot show one."""
    lines = difflib.unified_diff(
        original.splitlines(keepends=True),
        proposed.splitlines(keepends=True),
        fromfile=f"{path} (original)",
        tofile=f"{path} (proposed)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
