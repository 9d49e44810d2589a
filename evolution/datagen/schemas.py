"""The records the pipeline writes (JSONL, one object per line, ``schema_version`` 1).

Stage A, ``names/raw.jsonl``: one line per completion::

    {"schema_version": 1, "id": "FIM-000003#2", "item_id": "FIM-000003", "source": "FIM",
     "text": "merge_intervals", "finish_reason": "stop",
     "meta": {"params": {...}, "seed": 2739, "model": "...", "prompt_sha256": "..."}}

Stage A, ``names/filtered.jsonl``: one line per kept name, deduplicated across the arms::

    {"schema_version": 1, "func_name": "merge_intervals", "source": "FIM",
     "sources": {"FIM": 3, "L2R": 1}, "first_id": "FIM-000003#2", "meta": {...}}

``source`` is the arm that proposed the name most often (FIM, the design's main arm, on a tie);
``sources`` counts both, so nothing of the provenance is lost.

Stage B, ``code/raw.jsonl``: one line per completion, in the design's shape plus provenance::

    {"schema_version": 1, "id": "name:merge_intervals#0", "item_id": "name:merge_intervals",
     "desc": null, "func_name": "merge_intervals", "source": "FIM",
     "code": "def merge_intervals(...):\\n    ...", "completion": "...", "complete": true,
     "finish_reason": "stop", "meta": {"params": {...}, "seed": 42, "model": "...",
     "prompt_sha256": "...", "name_sources": {...}}}

``code/filtered.jsonl`` holds the kept ones in the design's shape, ``{"schema_version", "id",
"desc", "func_name", "source", "code", "meta"}`` (``meta`` gains ``ast_hash``);
``code/scored.jsonl`` adds ``score`` (see ``pipeline.scoring``). The files in ``parts/`` hold
the raw records plus ``group_size`` (see ``writer``). Readers must ignore keys they do not know.
"""

from __future__ import annotations

import re
from typing import Any

from evolution.clients import Choice
from evolution.datagen.filters.code import cut_function
from evolution.datagen.items import WorkItem
from evolution.datagen.prompts import code_head, prompt_hash

SCHEMA_VERSION = 1
_DEF_NAME = re.compile(r"^\s*(?:async\s+)?def\s+([^\W\d]\w*)\s*\(")


def sampling_params(section: Any) -> dict[str, Any]:
    """What each request sends besides the prompt and seed (namegen or codegen section)."""
    return {
        "temperature": section.temperature,
        "top_p": section.top_p,
        "max_tokens": section.max_tokens,
        "n": section.n,
        "stop": list(section.stop),
    }


def _meta(item: WorkItem, params: dict[str, Any], model: str) -> dict[str, Any]:
    return {
        "params": params,
        "seed": item.seed,
        "model": model,
        "prompt_sha256": prompt_hash(item.prompt),
        **item.provenance,
    }


def name_records(
    item: WorkItem, choices: list[Choice], params: dict[str, Any], model: str
) -> list[dict[str, Any]]:
    """The raw stage A records of one request."""
    meta = _meta(item, params, model)
    return [
        {
            "schema_version": SCHEMA_VERSION,
            "id": f"{item.id}#{index}",
            "item_id": item.id,
            "group_size": len(choices),
            "source": item.source,
            "text": choice.text,
            "finish_reason": choice.finish_reason,
            "meta": meta,
        }
        for index, choice in enumerate(choices)
    ]


def code_records(
    item: WorkItem, choices: list[Choice], params: dict[str, Any], model: str
) -> list[dict[str, Any]]:
    """The raw stage B records of one request: the function assembled and cut at its end."""
    meta = _meta(item, params, model)
    out = []
    for index, choice in enumerate(choices):
        code, complete = cut_function(code_head(item.func_name) + choice.text)
        named = _DEF_NAME.match(code)
        out.append(
            {
                "schema_version": SCHEMA_VERSION,
                "id": f"{item.id}#{index}",
                "item_id": item.id,
                "group_size": len(choices),
                "desc": item.desc,
                "func_name": item.func_name or (named.group(1) if named else None),
                "source": item.source,
                "code": code,
                "completion": choice.text,
                "complete": complete,
                "finish_reason": choice.finish_reason,
                "meta": meta,
            }
        )
    return out


def strip_part_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A record without the bookkeeping the parts files need (``group_size``)."""
    return {key: value for key, value in record.items() if key != "group_size"}
