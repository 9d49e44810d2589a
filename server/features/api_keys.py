"""``evoselfcode.setApiKeys``: the generator's and verifier's keys, handed in by the editor.

They are kept in the server's memory only (VS Code keeps them in its SecretStorage and sends
them after every start): never written to settings or data files, never logged, never echoed
in an error. A key given as ``""`` or null is forgotten; the environment variables
``EVOSELFCODE_GENERATOR_API_KEY`` / ``EVOSELFCODE_VERIFIER_API_KEY`` apply then.
"""

from __future__ import annotations

import logging
from typing import Any

from server import rpc
from server.selfevolve.service import ROLES
from server.server import EvoServer

log = logging.getLogger(__name__)
USAGE = "evoselfcode.setApiKeys takes {generator?, verifier?} (strings; empty to forget)"


def register(server: EvoServer) -> None:
    @server.command("evoselfcode.setApiKeys")
    def set_api_keys(ls: EvoServer, *args: Any) -> dict[str, Any]:
        arg = rpc.command_argument(args, USAGE)
        unknown = sorted(set(arg) - set(ROLES))
        if unknown:
            raise rpc.invalid_params(f"unknown key role {unknown[0]!r}: {USAGE}")
        for role in ROLES:
            if role in arg and arg[role] is not None and not isinstance(arg[role], str):
                raise rpc.invalid_params(f"{role} must be a string: {USAGE}")
        for role in ROLES:
            if role in arg:
                ls.evolve.set_key(role, arg[role])
        changed = [role for role in ROLES if role in arg]
        log.info("API keys updated in memory: %s", ", ".join(changed) or "none")
        return {"keysSet": ls.evolve.keys_set()}
