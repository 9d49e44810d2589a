"""What self-evolution keeps between commands: keys, the sandbox, the store, the proposals.

- API keys handed in by the editor (``evoselfcode.setApiKeys``) live here, in memory only, as
  ``Secret`` (never logged, never written); the environment variables are the fallback.
- The evaluation sandbox that runs the generated tests is started on first use (~0.1 s), or
  early by ``probe_sandbox`` so that the status can show its isolation, and kept; a broken
  one is replaced at the next run; ``close`` stops it. Each start reports the isolation it got
  (``on_sandbox``); the flow refuses to run generated code below full isolation unless
  ``evoselfcode.evolution.allowGuardOnly`` allows it.
- The HTTP clients are opened per evolution by the flow itself: a settings or key change
  applies at the next run, and a run in flight never loses its clients under it.
- The training-data store is opened per data folder on first use; its decontaminator (which
  imports ``datasets``, ~2 s) is warmed in a background thread when an evolution starts, so
  recording an accepted pair does not wait for it.
- Proposals wait for Accept / Reject under their id; the oldest are forgotten past a limit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolution.clients.secret import Secret
from evolution.evolve import EvolveRequest, EvolveResult, EvolveSettings, self_evolve
from server.errors import ServerError
from server.selfevolve.request import Snapshot
from server.selfevolve.target import Target
from server.settings import Settings
from server.status import sandbox_status

if TYPE_CHECKING:
    from evaluation.sandbox import Sandbox
    from evolution.evolve.flow import ProgressCallback
    from evolution.store import AddOutcome, TrainingStore

log = logging.getLogger(__name__)
MAX_PROPOSALS = 64
ROLES = ("generator", "verifier")


class EvolveSetupError(ServerError):
    """A generator or verifier setting cannot be used (the message names it)."""


@dataclass(frozen=True)
class Proposal:
    """An evolution's result and where it goes; ``target`` is None when nothing was located."""

    result: EvolveResult
    snapshot: Snapshot
    target: Target | None
    new_text: str | None  # what replaces (or follows) the target


def evolve_settings(settings: Settings, keys: dict[str, Secret]) -> EvolveSettings:
    """The flow's settings from the editor's (``evoselfcode.generator/verifier/evolution``)."""
    from evolution.clients.errors import ClientConfigError
    from evolution.evolve import InvalidSettings

    evolution = settings.evolution
    try:
        return EvolveSettings.from_endpoints(
            settings.generator.base_url,
            settings.verifier.base_url,
            generator_model=settings.generator.model,
            verifier_model=settings.verifier.model,
            generator_key=keys.get("generator"),
            verifier_key=keys.get("verifier"),
            request_timeout_s=evolution.request_timeout_seconds,
            temperature=evolution.temperature,
            max_tokens=evolution.max_tokens,
            test_timeout_s=evolution.test_timeout_seconds,
            min_verifier_confidence=evolution.min_verifier_confidence,
            allow_guard_only=evolution.allow_guard_only,
        )
    except (ClientConfigError, InvalidSettings) as exc:
        raise EvolveSetupError(
            f"{exc} (check evoselfcode.generator.baseUrl, evoselfcode.verifier.baseUrl and "
            "evoselfcode.evolution.*)"
        ) from exc


class EvolveService:
    def __init__(self, on_sandbox: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._on_sandbox = on_sandbox  # gets ``sandbox_status`` of each sandbox started
        self._keys: dict[str, Secret] = {}
        self._proposals: OrderedDict[str, Proposal] = OrderedDict()
        self._sandbox: Sandbox | None = None
        self._sandbox_lock: asyncio.Lock | None = None
        self._stores: dict[Path, TrainingStore] = {}
        self._stores_lock = threading.Lock()
        self._warmed: set[str] = set()

    # -- keys ------------------------------------------------------------------------------

    def set_key(self, role: str, key: str | None) -> None:
        """Keep ``key`` for ``role`` in memory; None or "" forgets it (the env var applies)."""
        if key:
            self._keys[role] = Secret(key)
        else:
            self._keys.pop(role, None)

    def keys_set(self) -> dict[str, bool]:
        return {role: role in self._keys for role in ROLES}

    # -- running ---------------------------------------------------------------------------

    async def run(
        self, request: EvolveRequest, settings: Settings, on_progress: ProgressCallback
    ) -> EvolveResult:
        """One evolution with the current settings and keys (cancel by cancelling the task)."""
        flow_settings = evolve_settings(settings, self._keys)
        self.warm_store(settings.data_dir)
        sandbox = await self._sandbox_ready()
        result = await self_evolve(request, flow_settings, sandbox=sandbox, on_progress=on_progress)
        if result.error is not None and result.error.role == "sandbox":
            self._drop_sandbox()  # started again at the next run
        return result

    async def _sandbox_ready(self) -> Sandbox:
        if self._sandbox_lock is None:
            self._sandbox_lock = asyncio.Lock()
        async with self._sandbox_lock:
            if self._sandbox is None:
                from evaluation.sandbox import Sandbox

                try:
                    self._sandbox = await asyncio.to_thread(Sandbox, 1)
                except Exception as exc:
                    self._report_sandbox(sandbox_status(None, str(exc)))
                    raise
                self._report_sandbox(sandbox_status(self._sandbox.isolation))
            return self._sandbox

    async def probe_sandbox(self) -> None:
        """Start the sandbox now (in the background), so that its isolation is known."""
        try:
            await self._sandbox_ready()
        except Exception as exc:  # reported as the status's sandbox; self-evolve says it too
            log.warning("the sandbox could not start: %s", exc)

    def _report_sandbox(self, status: dict[str, Any]) -> None:
        if self._on_sandbox is not None:
            self._on_sandbox(status)

    def _drop_sandbox(self) -> None:
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            sandbox.close()

    # -- proposals -------------------------------------------------------------------------

    def keep(self, proposal: Proposal) -> None:
        self._proposals[proposal.result.id] = proposal
        while len(self._proposals) > MAX_PROPOSALS:
            self._proposals.popitem(last=False)

    def get(self, proposal_id: str) -> Proposal | None:
        return self._proposals.get(proposal_id)

    def drop(self, proposal_id: str) -> Proposal | None:
        return self._proposals.pop(proposal_id, None)

    # -- the training-data store -----------------------------------------------------------

    def store(self, data_dir: str) -> TrainingStore:
        """The store of ``data_dir`` (the setting; empty: the default folder). Blocking."""
        from evolution.store import TrainingStore
        from models.paths import resolve_data_dir

        folder = resolve_data_dir(data_dir)
        with self._stores_lock:
            store = self._stores.get(folder)
            if store is None:
                store = self._stores[folder] = TrainingStore.in_data_dir(folder)
            return store

    def warm_store(self, data_dir: str) -> None:
        """Open the store and build its decontaminator in the background (once per folder)."""
        if data_dir in self._warmed:
            return
        self._warmed.add(data_dir)

        def warm() -> None:
            try:
                self.store(data_dir).decontaminator()
            except Exception as exc:  # recording will report it properly
                log.warning("could not prepare the training-data store: %s", exc)

        threading.Thread(target=warm, name="evoselfcode-store", daemon=True).start()

    async def record(self, result: EvolveResult, data_dir: str) -> AddOutcome:
        from evolution.evolve import record_accepted

        def add() -> AddOutcome:
            return record_accepted(self.store(data_dir), result, source="editor")

        return await asyncio.to_thread(add)

    async def stats(self, data_dir: str) -> dict[str, Any]:
        stats = await asyncio.to_thread(lambda: self.store(data_dir).stats())
        return stats.to_dict()

    def close(self) -> None:
        self._drop_sandbox()
        with self._stores_lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
