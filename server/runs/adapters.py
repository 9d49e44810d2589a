"""``evoselfcode.adapters``: the adapter registry as the editor sees it, promote and roll back.

After a promotion or a rollback the completion model switches adapters at once (a hot swap of
the LoRA weights; the base stays loaded) when the ``evoselfcode.adapter`` setting is
``promoted``, the default. Registry calls take a file lock, so they run off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from server.errors import ServerError
from server.settings import Settings

ACTIONS = ("list", "promote", "rollback")


class AdapterActionError(ServerError):
    """The registry refused (unknown id, a gate-rejected adapter, nothing to roll back)."""


def entry(record: Any, promoted: str | None, path: str) -> dict[str, Any]:
    """One adapter, camelCase, for the editor."""
    return {
        "id": record.id,
        "status": record.status,
        "promoted": record.id == promoted,
        "baseModel": record.base_model,
        "createdAt": record.created_at,
        "parent": record.parent,
        "metrics": record.metrics,
        "gate": record.gate,
        "randomWeights": record.random_weights,
        "path": path,
        "reportPath": f"{path}/{record.report}" if record.report else None,
    }


def registry_action(
    settings: Settings, action: str, adapter_id: str | None, force: bool
) -> dict[str, Any]:
    """Do ``action`` on the registry of the data folder; its state after (blocking)."""
    from evolution.finetune import AdapterRegistry, FinetuneError
    from models.paths import resolve_data_dir

    registry = AdapterRegistry.in_data_dir(resolve_data_dir(settings.data_dir))
    try:
        if action == "promote":
            assert adapter_id is not None
            reason = "promoted from the editor" + (" (forced past the gate)" if force else "")
            registry.promote(adapter_id, reason=reason, force=force)
        elif action == "rollback":
            registry.rollback(reason="rolled back from the editor")
        records = registry.records()
        promoted = registry.promoted()
    except FinetuneError as exc:
        raise AdapterActionError(str(exc)) from exc
    promoted_id = promoted.id if promoted else None
    return {
        "promoted": promoted_id,
        "adapters": [entry(r, promoted_id, str(registry.path_of(r.id))) for r in records],
        "registry": str(registry.root),
        "setting": settings.adapter,
    }


async def run_action(
    settings: Settings, action: str, adapter_id: str | None, force: bool
) -> dict[str, Any]:
    return await asyncio.to_thread(registry_action, settings, action, adapter_id, force)
