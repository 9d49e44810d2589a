"""``--stage import``: the filtered functions into the training-data store (source ``datagen``).

Every record goes through ``TrainingStore.add``, so the store's own deduplication (normalized
AST) and decontamination (benchmark n-grams and entry-point names) apply: a pair that
overlaps a benchmark is stored flagged and never trained on. Rerunning is safe: records
imported before are recognised by their task id and skipped.

The instruction of a pair is the description when the sample came from one; else the
function's docstring (first paragraph) when it has one; else ``Write the algorithm function
`name(args)` in Python.`` — a thin instruction, which is why the descriptions route is the
better source of training pairs.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evolution.codecheck import parse_quietly
from evolution.datagen.config import DatagenConfig
from evolution.datagen.errors import InputError, OutputError
from evolution.datagen.writer import read_jsonl

if TYPE_CHECKING:
    from evolution.store import RecordDraft, TrainingStore


@dataclass
class ImportSummary:
    read: int = 0
    added: int = 0
    duplicates: int = 0
    flagged: int = 0
    invalid: int = 0
    imported_before: int = 0
    store: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_filtered(
    config: DatagenConfig,
    store: TrainingStore,
    *,
    on_record: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Add every record of ``code/filtered.jsonl`` to ``store``; returns the counts."""
    from evolution.store import StoreError, StoreWriteError

    source = Path(config.io.out_code_dir) / "filtered.jsonl"
    if not source.is_file():
        raise InputError(f"nothing to import: {source} does not exist (run --stage code first)")
    summary = ImportSummary(store=str(store.path))
    known = store.task_ids()
    for record in read_jsonl(source):
        summary.read += 1
        draft = draft_for(record)
        if draft.provenance.task_id in known:
            summary.imported_before += 1
        else:
            try:
                outcome = store.add(draft)
            except StoreWriteError as exc:
                raise OutputError(f"{exc}; rerun to import the rest") from exc
            except StoreError:
                summary.invalid += 1
            else:
                summary.added += outcome.recorded
                summary.duplicates += not outcome.recorded
                summary.flagged += outcome.flagged
        if on_record is not None:
            on_record(summary)
    return summary


def draft_for(record: dict[str, Any]) -> RecordDraft:
    """The store's draft of one filtered record."""
    from evolution.store import Provenance, RecordContext, RecordDraft

    meta = record.get("meta") or {}
    code = str(record.get("code") or "")
    name = record.get("func_name")
    return RecordDraft(
        instruct=instruction_for(record.get("desc"), code, name),
        code=code,
        source="datagen",
        context=RecordContext(function_name=name),
        provenance=Provenance(
            generator_model=meta.get("model"),
            prompt_hashes={"datagen": str(meta.get("prompt_sha256", ""))},
            sampling={"datagen": {**(meta.get("params") or {}), "seed": meta.get("seed")}},
            task_id=f"datagen:{record.get('id')}:{str(meta.get('ast_hash') or '')[:16]}",
        ),
    )


def instruction_for(desc: str | None, code: str, name: str | None) -> str:
    """The description, else the docstring's first paragraph, else one made from the signature."""
    if desc and desc.strip():
        return desc.strip()
    try:
        function = parse_quietly(code).body[0]
    except (SyntaxError, ValueError, IndexError):
        return f"Write the algorithm function `{name}` in Python."
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return f"Write the algorithm function `{name}` in Python."
    docstring = ast.get_docstring(function)
    if docstring and docstring.strip():
        return docstring.strip().split("\n\n", 1)[0].strip()
    return (
        f"Write the algorithm function `{function.name}({ast.unparse(function.args)})` in Python."
    )
