"""The shape of one training pair in the store, and how it is hashed and serialized.

One record per line of ``pairs.jsonl`` (schema version 1)::

    {"schema_version": 1, "id": "…", "source": "editor" | "batch" | "datagen",
     "instruct": "…", "code": "…",
     "context": {"path", "function_name", "class_name", "original_code", "surrounding"},
     "provenance": {"generator_model", "verifier_model", "prompt_hashes": {stage: sha256},
                    "sampling": {stage: {temperature, top_p, max_tokens, ...}},
                    "gates": [{name, passed, reason, details, duration_s}, ...],
                    "verdict", "confidence", "task_id", "created_at", "gate_policy"},
     "content_hash": sha256 of [instruct, code], "ast_hash": normalized-AST sha256 of code,
     "decontamination": {"flagged": bool, "reasons": [...], "benchmarks": [...]}}

Readers must ignore keys they do not know: later schema versions only add keys.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from evolution.store.errors import InvalidRecord

SCHEMA_VERSION = 1
Source = Literal["editor", "batch", "datagen"]
SOURCES: tuple[str, ...] = ("editor", "batch", "datagen")


@dataclass(frozen=True)
class RecordContext:
    """Where the code came from: enough to show the pair to a person or rebuild its prompt."""

    path: str | None = None
    function_name: str | None = None
    class_name: str | None = None
    original_code: str | None = None
    surrounding: str | None = None


@dataclass(frozen=True)
class Provenance:
    """How the pair was made: models, prompts (by hash), sampling, every gate and the verdict."""

    generator_model: str | None = None
    verifier_model: str | None = None
    prompt_hashes: dict[str, str] = field(default_factory=dict)
    sampling: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: list[dict[str, Any]] = field(default_factory=list)
    verdict: str | None = None
    confidence: float | None = None
    task_id: str | None = None  # the instruction id of a batch run (resume uses it)
    created_at: str = ""
    # The gates the pair had to pass: "all", or "syntax"/"none" when ``evoselfcode evolve
    # --gates`` recorded it without the others (a measurement). None: datagen pairs, and
    # pairs stored before this key existed (editor and batch pairs then passed every gate).
    gate_policy: str | None = None


@dataclass(frozen=True)
class Decontamination:
    """Whether the pair overlaps a benchmark; flagged pairs are kept but never trained on."""

    flagged: bool = False
    reasons: list[str] = field(default_factory=list)
    benchmarks: list[str] = field(default_factory=list)  # what it was checked against


@dataclass(frozen=True)
class RecordDraft:
    """What a caller hands to ``TrainingStore.add``; the store adds ids, hashes and flags."""

    instruct: str
    code: str
    source: Source
    context: RecordContext = field(default_factory=RecordContext)
    provenance: Provenance = field(default_factory=Provenance)

    def validate(self) -> None:
        if not self.instruct.strip():
            raise InvalidRecord("the instruction is empty")
        if not self.code.strip():
            raise InvalidRecord("the code is empty")
        if self.source not in SOURCES:
            raise InvalidRecord(f"source {self.source!r} is not one of {', '.join(SOURCES)}")


@dataclass(frozen=True)
class TrainingRecord:
    """One stored (instruction, code) pair with everything known about it."""

    id: str
    instruct: str
    code: str
    source: str
    context: RecordContext
    provenance: Provenance
    content_hash: str
    ast_hash: str
    decontamination: Decontamination
    schema_version: int = SCHEMA_VERSION

    def to_json_line(self) -> bytes:
        """The record as one UTF-8 line ending in a newline (the unit of one append)."""
        payload = {
            "schema_version": self.schema_version,
            "id": self.id,
            "source": self.source,
            "instruct": self.instruct,
            "code": self.code,
            "context": asdict(self.context),
            "provenance": asdict(self.provenance),
            "content_hash": self.content_hash,
            "ast_hash": self.ast_hash,
            "decontamination": asdict(self.decontamination),
        }
        return json_line(payload)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingRecord:
        """Rebuild a record read from the file; unknown keys (newer schemas) are ignored."""
        return cls(
            id=str(data["id"]),
            instruct=str(data["instruct"]),
            code=str(data["code"]),
            source=str(data["source"]),
            context=_known(RecordContext, data.get("context") or {}),
            provenance=_known(Provenance, data.get("provenance") or {}),
            content_hash=str(data.get("content_hash", "")),
            ast_hash=str(data.get("ast_hash", "")),
            decontamination=_known(Decontamination, data.get("decontamination") or {}),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
        )


def _known(kind: Any, data: dict[str, Any]) -> Any:
    names = kind.__dataclass_fields__
    return kind(**{key: value for key, value in data.items() if key in names})


def json_line(payload: dict[str, Any]) -> bytes:
    """``payload`` as one UTF-8 JSON line ending in ``\\n``, readable text for Chinese too.

    U+2028/U+2029 are escaped so no reader that splits on Unicode line breaks cuts the line;
    text with lone surrogates (not encodable as UTF-8) falls back to ASCII escapes.
    """
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(payload, separators=(",", ":")) + "\n").encode("ascii")


def content_hash(instruct: str, code: str) -> str:
    """SHA-256 of the pair itself (exact text), independent of provenance."""
    blob = json.dumps([instruct, code], ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(blob).hexdigest()
