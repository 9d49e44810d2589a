"""The one completion request a stage A or stage B item sends, with that stage's sampling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evolution.clients import Choice, CompletionClient
from evolution.datagen.config import DatagenConfig
from evolution.datagen.items import WorkItem
from evolution.datagen.runner import Fetch
from evolution.datagen.schemas import sampling_params

# Raw records of one request: (item, choices, sampling params, model) -> records.
RecordsOf = Callable[[WorkItem, list[Choice], dict[str, Any], str], list[dict[str, Any]]]


def completion_fetcher(
    client: CompletionClient, config: DatagenConfig, sampling: Any, records_of: RecordsOf
) -> Fetch:
    """Fetch an item with the ``sampling`` section (namegen or codegen); every item of a stage
    sends the same parameters, and its own seed when ``api.send_seed`` is set."""
    params = sampling_params(sampling)

    async def fetch(item: WorkItem) -> list[dict[str, Any]]:
        choices = await client.complete(
            item.prompt,
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            n=sampling.n,
            stop=sampling.stop,
            seed=item.seed if config.api.send_seed else None,
        )
        return records_of(item, choices, params, config.api.model)

    return fetch
