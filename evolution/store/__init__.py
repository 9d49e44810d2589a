"""The training-data store: append-only JSONL of verified pairs, deduplicated and decontaminated.

store = TrainingStore.in_data_dir(data_dir)
outcome = store.add(RecordDraft(instruct, code, source="editor", context=..., provenance=...))
outcome.recorded, outcome.record_id, outcome.duplicate_of, outcome.flagged
store.training_records()   # flagged (benchmark-overlapping) records left out
store.export_chat(path)    # {"messages": [user: instruct, assistant: code]} per line
store.stats()

``outcomes.OutcomeLog`` is the inline-completion outcome log beside it (the server writes it,
``evolution.workspace`` reads accepted completions from it).
"""

from evolution.store.decontam import BenchmarkText, Decontaminator, load_benchmark_texts
from evolution.store.errors import InvalidRecord, StoreError, StoreWriteError
from evolution.store.records import (
    SCHEMA_VERSION,
    Decontamination,
    Provenance,
    RecordContext,
    RecordDraft,
    TrainingRecord,
)
from evolution.store.store import STORE_FILE, AddOutcome, StoreStats, TrainingStore

__all__ = [
    "SCHEMA_VERSION",
    "STORE_FILE",
    "AddOutcome",
    "BenchmarkText",
    "Decontamination",
    "Decontaminator",
    "InvalidRecord",
    "Provenance",
    "RecordContext",
    "RecordDraft",
    "StoreError",
    "StoreStats",
    "StoreWriteError",
    "TrainingRecord",
    "TrainingStore",
    "load_benchmark_texts",
]
