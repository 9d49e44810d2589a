"""A workspace's training data: its files split by path, deduplicated, decontaminated, and its
accepted completions as targets.

The order of work, as pretraining's corpus does it:

1. scan (``scan.py``): the user's own Python files, every skip with its reason;
2. split by path (``split.py``): held-out files are never trained on, not even in part;
3. deduplicate with pretraining's ``Deduplicator`` (the SHA-256 of the normalised text, then
   MinHash near-duplicates), first ``protected`` texts (e.g. the model's held-out general
   code), then held-out files, then training files: no copy of a held-out file is trained on;
4. decontaminate training files with the pair store's ``Decontaminator``: a file that shares
   a 10-gram with a benchmark task (prompt plus solution) is left out. The store's second
   rule, a top-level function named like a task's entry point, is not applied: it is meant
   for generated pairs, and a user's own ``def add`` or ``def search`` is no leak;
5. accepted completions (``accepted.py``) in training files become targets; those in held-out
   files are kept apart for the gate.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolution.pretrain.dedup import Deduplicator
from evolution.store.decontam import Decontaminator, load_benchmark_texts
from evolution.workspace.accepted import AcceptedTarget, find_accepted_targets
from evolution.workspace.examples import (
    ExampleConfig,
    FimExample,
    accepted_examples,
    file_examples,
)
from evolution.workspace.scan import (
    MAX_FILE_BYTES,
    SKIP_REASONS,
    Skip,
    WorkspaceFile,
    scan_workspace,
)
from evolution.workspace.split import HELDOUT_SHARE, split_by_path

# Reasons a scanned file is dropped after the split (beside SKIP_REASONS).
DROP_REASONS = {
    "duplicate": "the same normalised text as a file kept before it (held-out files first)",
    "near-duplicate": "over 80% of its lines shared with a file kept before it (MinHash)",
    "contaminated": "shares a 10-word run with a benchmark task (decontamination)",
}
REASONS = {**SKIP_REASONS, **DROP_REASONS}


@dataclass(frozen=True)
class WorkspaceOptions:
    heldout_share: float = HELDOUT_SHARE
    max_file_bytes: int = MAX_FILE_BYTES


@dataclass
class WorkspaceData:
    """What a completion adapter of this workspace trains on, and what its gate replays."""

    root: Path
    repo_name: str  # the workspace folder's name, as the server names the repo in prompts
    train_files: list[WorkspaceFile] = field(default_factory=list)  # sorted by path
    heldout_files: list[WorkspaceFile] = field(default_factory=list)  # sorted by path
    skips: list[Skip] = field(default_factory=list)  # scan skips, then dedup and decontam drops
    train_targets: list[AcceptedTarget] = field(default_factory=list)
    heldout_targets: list[AcceptedTarget] = field(default_factory=list)  # for the gate only
    records_not_used: Counter[str] = field(default_factory=Counter)  # accepted.RECORD_REASONS
    benchmarks: list[str] = field(default_factory=list)  # decontaminated against these

    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(skip.reason for skip in self.skips).most_common())

    def examples(self, config: ExampleConfig | None = None) -> list[FimExample]:
        """Training examples: each training file's chunks, then each accepted completion."""
        config = config or ExampleConfig()
        return file_examples(self.train_files, self.repo_name, config) + accepted_examples(
            self.train_targets, self.train_files, self.repo_name, config
        )

    def summary(self, examples: Sequence[FimExample] = ()) -> dict[str, Any]:
        """Everything as JSON-ready data (the CLI's ``--json``)."""
        return {
            "workspace": str(self.root),
            "repo_name": self.repo_name,
            "train_files": [f.path for f in self.train_files],
            "heldout_files": [f.path for f in self.heldout_files],
            "skip_counts": self.skip_counts(),
            "skips": [dataclasses.asdict(skip) for skip in self.skips],
            "examples": dict(Counter(f"{e.source}:{e.kind}" for e in examples)),
            "accepted_targets": {
                "train": [dataclasses.asdict(t) for t in self.train_targets],
                "heldout": [dataclasses.asdict(t) for t in self.heldout_targets],
            },
            "records_not_used": dict(self.records_not_used.most_common()),
            "decontaminated_against": self.benchmarks,
        }


def build_workspace_data(
    root: str | os.PathLike[str],
    *,
    outcome_records: Iterable[Mapping[str, Any]] = (),
    options: WorkspaceOptions = WorkspaceOptions(),
    decontaminator: Decontaminator | None = None,
    protected: Sequence[tuple[str, str]] = (),
) -> WorkspaceData:
    """Scan ``root`` and prepare its training data (see the module's docstring).

    ``outcome_records`` are the server's outcome log records (``read_outcome_log``).
    ``decontaminator`` defaults to one built on the benchmarks available offline (HumanEval,
    MBPP), as the pair store's. ``protected`` are ``(name, normalised text)`` pairs no
    training or held-out file may copy, such as the model's held-out files
    (``evolution.pretrain.heldout.heldout_files``).
    """
    scan = scan_workspace(root, max_file_bytes=options.max_file_bytes)
    data = WorkspaceData(scan.root, scan.root.name, skips=list(scan.skips))
    by_path = {f.path: f for f in scan.files}
    train_paths, heldout_paths = split_by_path(by_path, options.heldout_share)
    dedup = Deduplicator()
    for name, text in protected:
        dedup.check(f"protected:{name}", text)
    data.heldout_files = _unique([by_path[p] for p in heldout_paths], dedup, data.skips)
    unique_train = _unique([by_path[p] for p in train_paths], dedup, data.skips)
    checker = decontaminator if decontaminator is not None else workspace_decontaminator()
    data.benchmarks = list(checker.benchmarks)
    data.train_files = _clean_of_benchmarks(unique_train, checker, data.skips)

    texts = {f.path: f.text for f in [*data.train_files, *data.heldout_files]}
    search = find_accepted_targets(outcome_records, data.root, texts)
    heldout = {f.path for f in data.heldout_files}
    data.train_targets = [t for t in search.targets if t.path not in heldout]
    data.heldout_targets = [t for t in search.targets if t.path in heldout]
    data.records_not_used = search.not_used
    return data


def workspace_decontaminator() -> Decontaminator:
    """The pair store's decontamination over the benchmarks available offline, n-grams only
    (entry-point names are the store's rule for generated pairs; see the module docstring)."""
    tasks = [dataclasses.replace(t, entry_point=None) for t in load_benchmark_texts()]
    return Decontaminator(tasks)


def _unique(
    files: list[WorkspaceFile], dedup: Deduplicator, skips: list[Skip]
) -> list[WorkspaceFile]:
    kept = []
    for file in files:
        duplicate = dedup.check(file.path, file.text)
        if duplicate is None:
            kept.append(file)
        else:
            reason, original = duplicate
            skips.append(Skip(file.path, reason, f"of {original}"))
    return kept


def _clean_of_benchmarks(
    files: list[WorkspaceFile], checker: Decontaminator, skips: list[Skip]
) -> list[WorkspaceFile]:
    kept = []
    for file in files:
        verdict = checker.check("", file.text)
        if verdict.flagged:
            skips.append(Skip(file.path, "contaminated", "; ".join(verdict.reasons)))
        else:
            kept.append(file)
    return kept
