"""The interface the pipelines program against, and a factory from configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from evolution.clients.choice import Choice
from evolution.clients.config import ClientConfig
from evolution.clients.errors import ClientConfigError
from evolution.clients.fieldmap import FieldMap


class CompletionClient(Protocol):
    """Anything that completes a prompt: ``OpenAIClient`` and ``EndpointClient``."""

    async def complete(
        self,
        prompt: str,
        *,
        model: str | None = None,
        max_tokens: int = 256,
        temperature: float | None = None,
        top_p: float | None = None,
        n: int = 1,
        stop: str | Sequence[str] | None = None,
        logprobs: bool | int | None = None,
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> list[Choice]: ...

    async def aclose(self) -> None: ...


def completion_client(
    config: ClientConfig,
    *,
    mode: Literal["openai", "endpoint"] = "openai",
    route: str | None = None,
    field_map: FieldMap | Mapping[str, str] | None = None,
) -> CompletionClient:
    """An ``OpenAIClient`` (``mode="openai"``) or an ``EndpointClient`` (``"endpoint"``)."""
    from evolution.clients.endpoint import EndpointClient
    from evolution.clients.openai import OpenAIClient

    if mode == "openai":
        if field_map is not None or route is not None:
            raise ClientConfigError("route and field_map apply to mode 'endpoint' only")
        return OpenAIClient(config)
    if mode == "endpoint":
        return EndpointClient(config, field_map, route=route or "/generate")
    raise ClientConfigError(f"mode must be 'openai' or 'endpoint', got {mode!r}")
