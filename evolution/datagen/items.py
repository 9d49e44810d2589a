"""Work items: one request each, with a stable id and seed, so runs can resume and be split.

Ids are derived from what an item *is*, never from when it ran:

- stage A: ``{arm}-{index:06d}`` (``FIM-000003``), index < ``namegen.requests_per_arm``
  (raising ``requests_per_arm`` later only adds items);
- stage B: ``name:{func_name}`` for each kept name, ``desc:{id}`` for each description.

Seeds: ``derive_seed(base, key)``, a hash. Stage A uses the key ``req-{index}`` for both arms,
so request *i* of FIM and request *i* of L2R share a seed (a paired A/B design); stage B uses
the item id. ``--shard i/N`` keeps the items whose id hashes to ``i - 1`` modulo ``N``: every
machine computes the same split from the same config without talking to the others.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolution.datagen.config import DatagenConfig
from evolution.datagen.errors import InputError
from evolution.datagen.prompts import code_prompt, name_prompt

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class WorkItem:
    """One request: its prompt, seed, and what the records it yields will say."""

    id: str
    prompt: str
    seed: int
    source: str  # "FIM" | "L2R" for names and for code from names; "desc" for descriptions
    func_name: str | None = None
    desc: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShardSpec:
    """``--shard i/N``: this machine's part, ``1 ≤ index ≤ count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        match = _SHARD.match(text)
        if match is None:
            raise InputError(f"--shard must look like i/N (e.g. 1/4), got {text!r}")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise InputError(f"--shard {text}: i must be between 1 and N (N ≥ 1)")
        return cls(index, count)

    @property
    def tag(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    def owns(self, item_id: str) -> bool:
        digest = hashlib.sha256(item_id.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def select(self, items: list[WorkItem]) -> list[WorkItem]:
        return [item for item in items if self.owns(item.id)]


WHOLE_RUN = ShardSpec(1, 1)


def derive_seed(base: int, key: str) -> int:
    """A 32-bit seed from the configured seed and an item key (stable across machines)."""
    digest = hashlib.sha256(f"{base}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def name_items(config: DatagenConfig) -> list[WorkItem]:
    """Every stage A request, arm by arm."""
    namegen = config.namegen
    return [
        WorkItem(
            id=f"{arm}-{index:06d}",
            prompt=name_prompt(arm, config.prompts),
            seed=derive_seed(namegen.seed, f"req-{index}"),
            source=arm,
        )
        for arm in namegen.arms
        for index in range(namegen.requests_per_arm)
    ]


@dataclass(frozen=True)
class Description:
    """One line of the descriptions file."""

    id: str
    desc: str
    func_name: str | None = None


def code_items(
    config: DatagenConfig, names: list[dict[str, Any]], descriptions: list[Description]
) -> list[WorkItem]:
    """Stage B requests: one per kept name (``names/filtered.jsonl``), one per description."""
    codegen, prompts = config.codegen, config.prompts
    items = []
    for record in names:
        name = record["func_name"]
        item_id = f"name:{name}"
        items.append(
            WorkItem(
                id=item_id,
                prompt=code_prompt(prompts, name),
                seed=derive_seed(codegen.seed, item_id),
                source=record["source"],
                func_name=name,
                provenance={"name_sources": record.get("sources", {})},
            )
        )
    for description in descriptions:
        item_id = f"desc:{description.id}"
        items.append(
            WorkItem(
                id=item_id,
                prompt=code_prompt(prompts, description.func_name, description.desc),
                seed=derive_seed(codegen.seed, item_id),
                source="desc",
                func_name=description.func_name,
                desc=description.desc,
            )
        )
    return items


def read_descriptions(path: str | Path, forbidden: list[str]) -> list[Description]:
    """Descriptions from ``path``: JSONL objects ``{"desc", "id"?, "func_name"?}`` when the name
    ends in ``.jsonl``, else plain text with one description per non-blank line.

    Ids default to a hash of the text, so editing one line leaves the others' ids (and their
    finished work) alone. ``forbidden`` strings (the model's control tokens) may not appear.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the descriptions file {source}: {exc}") from exc
    out: list[Description] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        item = _description(line, where, source.suffix == ".jsonl")
        for token in forbidden:
            if token and token in item.desc:
                raise InputError(f"{where}: the description contains the control token {token!r}")
        if item.id in seen:
            if out[seen[item.id]].desc == item.desc:
                continue  # the same description twice: one item
            raise InputError(f"{where}: id {item.id!r} is already used on an earlier line")
        seen[item.id] = len(out)
        out.append(item)
    return out


def _description(line: str, where: str, is_jsonl: bool) -> Description:
    if not is_jsonl:
        desc = line.strip()
        return Description(_text_id(desc), desc)
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise InputError(f"{where}: not JSON ({exc})") from None
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected an object with a 'desc' key, got {line.strip()!r}")
    desc, name, given_id = row.get("desc"), row.get("func_name"), row.get("id")
    if not isinstance(desc, str) or not desc.strip():
        raise InputError(f"{where}: 'desc' must be a non-empty string")
    if name is not None and (not isinstance(name, str) or not _IDENTIFIER.match(name)):
        raise InputError(f"{where}: 'func_name' must be a Python identifier, got {name!r}")
    if given_id is not None and (
        isinstance(given_id, bool) or not isinstance(given_id, (str, int))
    ):
        raise InputError(f"{where}: 'id' must be a string or an integer, got {given_id!r}")
    item_id = str(given_id) if given_id is not None else _text_id(f"{name}\n{desc.strip()}")
    return Description(item_id, desc.strip(), name)


def _text_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
