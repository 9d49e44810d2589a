"""What the serving side needs from the registry: which adapter to serve, and the hot swap.

The language server calls :func:`resolve_adapter_setting` with the ``evoselfcode.adapter``
setting (``promoted``, ``none``, an adapter id, or a folder) and its workspace folder, and hands
the result to :func:`swap_adapter`, which loads the adapter into the running model under its id
and switches to it without reloading the base weights (``CodeModel.load_adapter`` /
``set_adapter``). After a promotion or rollback it calls them again: the next completion uses
the new adapter.

``promoted`` means the best adapter made for this place: the workspace's promoted completion
adapter (trained on its own code, ``finetune --workspace``; its own registry) when it has one,
else the promoted instruction adapter. An adapter named by id or folder is served as named.

An adapter only fits the base model it was trained on. The registry keeps the base model's
reference; two references name the same model when they are equal or end in the same folder
name (``Qwen2.5-Coder-1.5B``, ``/models/Qwen2.5-Coder-1.5B`` and ``Qwen/Qwen2.5-Coder-1.5B``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.finetune.errors import AdapterNotFound
from evolution.finetune.registry import AdapterRegistry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdapterChoice:
    """An adapter to serve: the name it is loaded under, its folder, and for a promoted one
    the registry that promoted it (where a rollback goes)."""

    name: str
    path: Path
    registry: Path | None = None

    @property
    def promoted(self) -> bool:
        return self.registry is not None


def same_base_model(a: str, b: str) -> bool:
    return a == b or Path(a.rstrip("/")).name == Path(b.rstrip("/")).name


def _registry(data_dir: str | os.PathLike[str] | None) -> AdapterRegistry:
    return AdapterRegistry.in_data_dir(data_dir) if data_dir else AdapterRegistry()


def promoted_adapter_path(
    data_dir: str | os.PathLike[str] | None = None, *, base_model: str | None = None
) -> Path | None:
    """The promoted adapter's folder, or None (no promotion, or made for another base model)."""
    choice = resolve_adapter_setting("promoted", data_dir=data_dir, base_model=base_model)
    return choice.path if choice else None


def resolve_adapter_setting(
    setting: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    base_model: str | None = None,
    workspace: str | os.PathLike[str] | None = None,
) -> AdapterChoice | None:
    """Map the ``evoselfcode.adapter`` setting to an adapter to serve, or None for the base.

    Raises :class:`AdapterNotFound` for an id that is not in the registry and is no folder.
    """
    value = (setting or "none").strip()
    if value.lower() == "none":
        return None
    registry = _registry(data_dir)
    if value.lower() == "promoted":
        if workspace:
            from evolution.finetune.workspace_data import completion_registry_root

            own = AdapterRegistry(completion_registry_root(registry.root.parent, workspace))
            if (choice := _promoted_in(own, base_model)) is not None:
                return choice
        return _promoted_in(registry, base_model)
    folder = Path(value).expanduser()
    if folder.is_dir() and (folder / "adapter_config.json").is_file():
        return AdapterChoice(folder.name, folder)
    record = registry.get(value)  # AdapterNotFound names the known ids
    path = registry.path_of(record.id)
    if not path.is_dir():
        raise AdapterNotFound(f"adapter {record.id} is registered but {path} is missing")
    return AdapterChoice(record.id, path)


def _promoted_in(registry: AdapterRegistry, base_model: str | None) -> AdapterChoice | None:
    """The registry's promoted adapter, unless it was trained on another base model."""
    record = registry.promoted()
    if record is None:
        return None
    if base_model and not same_base_model(record.base_model, base_model):
        logger.warning(
            "the promoted adapter %s was trained on %s, not %s: not serving it",
            record.id,
            record.base_model,
            base_model,
        )
        return None
    return AdapterChoice(record.id, registry.path_of(record.id), registry.root)


def swap_adapter(model: Any, choice: AdapterChoice | None) -> str | None:
    """Hot-swap ``model`` (a ``models.CodeModel``) to ``choice``; returns the active name.

    An adapter already loaded under the same name is reused, so switching back and forth
    costs no disk reads. ``None`` switches the adapters off: exactly the base model.
    """
    if choice is None:
        model.set_adapter(None)
        return None
    loaded = loaded_adapters(model)
    if choice.name in loaded and Path(loaded[choice.name]) != choice.path:
        model.unload_adapter(choice.name)  # same name, other files (a re-registered folder)
        loaded = {}
    if choice.name not in loaded:
        model.load_adapter(choice.path, choice.name)
    model.set_adapter(choice.name)
    return choice.name


def swap_to_promoted(
    model: Any, *, data_dir: str | os.PathLike[str] | None = None, base_model: str | None = None
) -> str | None:
    """Serve the registry's promoted adapter (or the base model when none fits)."""
    choice = resolve_adapter_setting("promoted", data_dir=data_dir, base_model=base_model)
    return swap_adapter(model, choice)


def loaded_adapters(model: Any) -> dict[str, Path]:
    """Adapters loaded on a ``CodeModel``: name → folder."""
    return dict(model.adapters)
