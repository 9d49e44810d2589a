"""The completion model's life: load in the background, reload on settings, swap adapters.

``initialize`` must answer at once, so the model loads as a task on the model thread (the
thread that also generates, so nothing generates while the model changes). Until it is ready
completions answer "model-loading"; when loading fails the state says why and the user gets
one pop-up, since only they can fix a model path. Changing the model, device, dtype,
quantization or backend reloads; changing only the adapter swaps it on the loaded model.
The adapter follows the ``evoselfcode.adapter`` setting and the workspace: with ``promoted``,
a workspace's own promoted completion adapter serves before the instruction adapter
(``evolution.finetune.serving``); ``serving`` says which one serves now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from server.reasons import EmptyReason
from server.scheduler import ModelWorker
from server.settings import Settings
from server.status import ModelDescription, StatusBoard

if TYPE_CHECKING:
    from evolution.finetune.serving import AdapterChoice
    from models.types import CodeModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """Everything that needs a fresh load when it changes."""

    name: str
    models_dir: str
    device: str
    dtype: str
    quantization: str
    backend: str
    remote_base_url: str
    remote_model: str
    data_dir: str  # the llama.cpp backend's GGUF files live under it

    @classmethod
    def completion(cls, settings: Settings) -> ModelSpec:
        return cls(
            name=settings.model,
            models_dir=settings.models_dir,
            device=settings.device,
            dtype=settings.dtype,
            quantization=settings.quantization,
            backend=settings.backend,
            remote_base_url=settings.remote.base_url,
            remote_model=settings.remote.model,
            data_dir=settings.data_dir,
        )


class AdapterKey(NamedTuple):
    """What decides the adapter: the setting, the data folder, the workspace folder."""

    setting: str
    data_dir: str
    workspace: str | None


def load(spec: ModelSpec) -> CodeModel:
    """Load ``spec`` (imports torch and transformers: call it off the event loop). Fails with
    the fix when the installed packages do not work together."""
    from models import load_model
    from models.environment import check_environment

    check_environment()
    return load_model(
        spec.name,
        device=spec.device,
        dtype=spec.dtype,
        quantization=spec.quantization,
        models_dir=spec.models_dir or None,
        backend=spec.backend,
        remote_base_url=spec.remote_base_url if spec.backend == "remote" else None,
        remote_model=spec.remote_model or None,
        data_dir=spec.data_dir or None,
    )


def describe(model: CodeModel) -> ModelDescription:
    info = model.info
    return ModelDescription(
        model=info.name,
        adapter=info.adapter,
        device=info.device,
        dtype=info.dtype,
        backend=info.backend,
        random_weights=info.random_weights,
        trained_here=info.trained_here,
    )


class ModelHost:
    """Owns the completion model; ``model`` is None until it is ready."""

    def __init__(
        self,
        worker: ModelWorker,
        status: StatusBoard,
        on_change: Callable[[], None],
        on_failure: Callable[[str], None],
        workspace: Callable[[], str | None] = lambda: None,
    ):
        self.worker = worker
        self.status = status
        self.model: CodeModel | None = None
        self.serving: AdapterChoice | None = None  # the adapter the model serves with now
        self._on_change = on_change
        self._on_failure = on_failure
        self._workspace = workspace
        self._spec: ModelSpec | None = None
        self._adapter: AdapterKey | None = None  # last applied
        self._ticket = 0  # bumped per reload; a stale load discards its result
        self._loaded: CodeModel | None = None  # owned by the model thread

    def apply(self, settings: Settings) -> None:
        """Reload or swap the adapter when the settings ask for it (call on the event loop)."""
        spec = ModelSpec.completion(settings)
        adapter = AdapterKey(settings.adapter, settings.data_dir, self._workspace())
        if spec != self._spec:
            self._spec, self._adapter = spec, adapter
            self._ticket += 1
            ticket = self._ticket
            self.model = None
            self.worker.cancel_completions(EmptyReason.MODEL_LOADING)
            self.status.set_model_state("loading", ModelDescription(model=spec.name))
            self._on_change()
            log.info("loading model %s (device %s, dtype %s)", spec.name, spec.device, spec.dtype)
            self.worker.submit_task(lambda token: self._load(ticket, spec, adapter))
        elif adapter != self._adapter:
            self._adapter = adapter
            ticket = self._ticket
            self.worker.submit_task(lambda token: self._swap_adapter(ticket, adapter))

    def refresh_adapter(self) -> None:
        """Serve what the adapter setting names now: after a promotion or a rollback the
        setting ``promoted`` points at another adapter. Hot swap; the base stays loaded."""
        if self._adapter is None:
            return  # nothing loaded yet: the first load resolves the setting itself
        ticket, adapter = self._ticket, self._adapter
        self.worker.submit_task(lambda token: self._swap_adapter(ticket, adapter))

    # -- on the model thread --------------------------------------------------------------

    def _load(self, ticket: int, spec: ModelSpec, adapter: AdapterKey) -> None:
        if ticket != self._ticket:
            return  # a newer reload is queued behind this one
        self.model = None
        if self._loaded is not None:
            self._loaded.close()  # free its memory before the next one loads
            self._loaded = None
        started = time.perf_counter()
        try:
            model = load(spec)
        except Exception as exc:  # any failure becomes a state with a reason
            reason = str(exc) or type(exc).__name__
            log.error("could not load model %s: %s", spec.name, reason)
            if ticket == self._ticket:
                self.status.set_model_state("failed", ModelDescription(model=spec.name), reason)
                self._on_change()
                self._on_failure(f"EvoSelfCode could not load the model {spec.name!r}: {reason}")
            return
        if ticket != self._ticket:
            model.close()
            return
        self._try_adapter(model, adapter)
        self._loaded = self.model = model
        description = describe(model)
        self.status.set_model_state("ready", description)
        note = (
            " (RANDOM WEIGHTS: suggestions are junk)"
            if description.random_weights
            else " (a small model trained by evoselfcode pretrain: nowhere near Qwen2.5-Coder)"
            if description.trained_here
            else ""
        )
        log.info(
            "model %s ready on %s in %.1f s%s",
            description.model,
            description.device,
            time.perf_counter() - started,
            note,
        )
        self._on_change()

    def _swap_adapter(self, ticket: int, adapter: AdapterKey) -> None:
        model = self._loaded
        if model is None or ticket != self._ticket:
            return  # the load that is queued or running applies the newest adapter itself
        self._try_adapter(model, adapter)
        self.status.set_model_state("ready", describe(model))
        self._on_change()

    def _try_adapter(self, model: CodeModel, adapter: AdapterKey) -> None:
        """Switch adapters; on failure keep serving what is active and tell the user."""
        try:
            self.serving = self._use_adapter(model, adapter)
        except Exception as exc:
            log.error("could not switch the adapter to %r: %s", adapter.setting, exc)
            self._on_failure(f"EvoSelfCode could not use the adapter {adapter.setting!r}: {exc}")

    @staticmethod
    def _use_adapter(model: CodeModel, adapter: AdapterKey) -> AdapterChoice | None:
        """Serve the adapter the setting names (registry id, ``promoted``, folder, ``none``)."""
        from evolution.finetune.serving import resolve_adapter_setting, swap_adapter

        base_model = model.info.name if model.info.path is None else str(model.info.path)
        choice = resolve_adapter_setting(
            adapter.setting,
            data_dir=adapter.data_dir or None,
            base_model=base_model,
            workspace=adapter.workspace,
        )
        if choice is None and model.info.adapter is None:
            return None  # already the base model (and remote models have no adapters to switch)
        active = swap_adapter(model, choice)
        log.info("serving adapter %s", f"{active} ({choice.path})" if choice else "none")
        return choice
