"""LoRA adapters on a loaded model: load, switch and unload without reloading the base.

Uses transformers' own PEFT integration, so the model object and its forward pass stay the
same; an adapter saved with peft's ``save_pretrained`` (``adapter_config.json`` plus weights)
loads as is. With no adapter active the LoRA layers are switched off: exactly the base model.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.errors import InvalidRequestError, ModelLoadError
from models.loading import quiet_weight_loading

logger = logging.getLogger(__name__)


def adapter_config_file(folder: Path) -> Path:
    """``folder``'s ``adapter_config.json``; ModelLoadError when it is not an adapter folder."""
    path = folder / "adapter_config.json"
    if not path.is_file():
        raise ModelLoadError(
            f"{folder} is not a LoRA adapter folder: it has no adapter_config.json "
            "(adapters are saved with peft's save_pretrained)"
        )
    return path


class AdapterNames:
    """Which adapters are loaded (name → folder) and which one is active: the bookkeeping and
    the checks both engines' adapter sets share."""

    def __init__(self) -> None:
        self._paths: dict[str, Path] = {}
        self.active: str | None = None

    @property
    def loaded(self) -> dict[str, Path]:
        return dict(self._paths)

    def _check_new(self, name: str) -> None:
        if not name:
            raise InvalidRequestError("an adapter needs a non-empty name")
        if name in self._paths:
            raise InvalidRequestError(
                f"an adapter named {name!r} is already loaded (from {self._paths[name]}); "
                "unload it first or pick another name"
            )

    def _check_loaded(self, name: str | None) -> None:
        if name is not None and name not in self._paths:
            raise InvalidRequestError(
                f"no adapter named {name!r} is loaded; loaded: {sorted(self._paths) or 'none'}"
            )


class AdapterSet(AdapterNames):
    """The adapters loaded on one transformers model and which one (if any) is active."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self._model = model

    def load(self, path: str | Path, name: str) -> None:
        """Load the adapter in ``path`` as ``name``; the active adapter does not change."""
        folder = Path(path).expanduser()
        self._check_new(name)
        adapter_config_file(folder)
        try:
            with _expected_peft_warnings(), quiet_weight_loading(), _no_load_report():
                info = self._model.load_adapter(str(folder), adapter_name=name)
        except Exception as exc:  # peft raises ValueError, KeyError, OSError, RuntimeError...
            raise ModelLoadError(
                f"could not load the LoRA adapter in {folder}: {exc} "
                "(was it trained for this base model?)"
            ) from exc
        _warn_about_mismatches(info, name, folder)
        self._paths[name] = folder
        self._apply()

    def set(self, name: str | None) -> None:
        """Make ``name`` the active adapter; ``None`` serves the plain base model."""
        self._check_loaded(name)
        self.active = name
        self._apply()

    def unload(self, name: str) -> None:
        """Remove ``name`` from the model, freeing its weights."""
        self._check_loaded(name)
        if self.active == name:
            self.set(None)
        with _expected_peft_warnings():
            self._model.delete_adapter(name)
        del self._paths[name]
        self._apply()  # peft activates some other adapter after a delete; ours says none

    def _apply(self) -> None:
        if not self._paths:
            return
        if self.active is None:
            self._model.disable_adapters()
        else:
            self._model.enable_adapters()
            self._model.set_adapter(self.active)


@contextlib.contextmanager
def _expected_peft_warnings() -> Iterator[None]:
    """Quiet peft's notes on what this class does on purpose (several adapters, deleting the
    active one); every other warning still shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
        warnings.filterwarnings("ignore", message="Adapter .* was active which is now deleted")
        yield


@contextlib.contextmanager
def _no_load_report() -> Iterator[None]:
    """Hide transformers' loading report for an adapter: with several adapters loaded it lists
    the others' weights as MISSING, which reads like an error. ``_warn_about_mismatches``
    reports what really is missing instead."""
    report_logger = logging.getLogger("transformers.integrations.peft")
    level = report_logger.level
    report_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        report_logger.setLevel(level)


def _warn_about_mismatches(info: Any, name: str, folder: Path) -> None:
    """Warn when the adapter's own weights are missing or the file has weights nobody uses."""
    missing = sorted(k for k in getattr(info, "missing_keys", None) or () if f".{name}." in k)
    unexpected = sorted(getattr(info, "unexpected_keys", None) or ())
    if missing:
        logger.warning(
            "the LoRA adapter in %s has no weights for %d of its layers (e.g. %s): they start "
            "at their initial values",
            folder,
            len(missing),
            missing[0],
        )
    if unexpected:
        logger.warning(
            "the LoRA adapter in %s has %d weights this model has no place for (e.g. %s): "
            "was it trained for another base model?",
            folder,
            len(unexpected),
            unexpected[0],
        )
