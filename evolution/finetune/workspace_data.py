"""Fine-tuning data from a workspace's own code: the completion adapter (issue 15, item 3).

With ``FinetuneConfig.workspace`` set, a run trains a FIM LoRA of the base completion model
on that folder instead of on the pair store:

- the data is ``evolution.workspace.build_workspace_data`` (files split by path, deduplicated,
  decontaminated, accepted-and-kept completions of the data folder's outcome log as
  targets). The model's general held-out files (``general_code``: the standard-library files
  its ``heldout.json`` lists, which the completion gate scores for regressions) are
  protected: no workspace file that copies one is trained on or held out;
- it is frozen in the run folder at the start (``workspace.json``: every kept file's text and
  the targets), so a resumed run and its gate see the same files whatever changed since;
- training examples: ``workspace_fim_variants`` FIM examples per chunk of each training file
  (other seeds: other split points and context files) plus one per accepted target;
  held-out examples (the gate's loss) come from the held-out files and their targets only.
  The loss is on the middle and ``<|endoftext|>`` alone (``ExampleRenderer.completion``);
- the adapter goes to a registry of its own per workspace (``registry_root``), so promoting
  it never replaces the instruction adapter and two workspaces never share one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from evolution.finetune.config import FinetuneConfig
from evolution.finetune.dataset import DataStats, PreparedData, assemble_data
from evolution.finetune.errors import DataError, ResumeError
from evolution.finetune.formatting import Example, ExampleRenderer
from evolution.workspace import (
    AcceptedTarget,
    ExampleConfig,
    FimExample,
    Skip,
    WorkspaceData,
    WorkspaceFile,
    accepted_examples,
    build_workspace_data,
    file_examples,
    read_outcome_log,
)

SNAPSHOT = "workspace.json"  # in the run folder
SNAPSHOT_SCHEMA = 1
COMPLETION_ADAPTERS = "completion"  # under {data_dir}/adapters: one registry per workspace
GENERAL_SOURCE = "stdlib"  # the held-out files of the model that count as general code


def workspace_key(workspace: str | os.PathLike[str]) -> str:
    """``<folder name>-<10 hex digits of the resolved path>``: readable, and two folders of
    the same name elsewhere never share an adapter."""
    resolved = Path(workspace).expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{resolved.name}-{digest[:10]}"


def completion_registry_root(data_dir: Path, workspace: str | os.PathLike[str]) -> Path:
    """The registry of ``workspace``'s completion adapters."""
    return data_dir / "adapters" / COMPLETION_ADAPTERS / workspace_key(workspace)


def registry_root(data_dir: Path, config: FinetuneConfig) -> Path:
    """Where a run's adapter is registered: the instruction registry, or the workspace's."""
    if not config.workspace:
        return data_dir / "adapters"
    return completion_registry_root(data_dir, config.workspace)


def general_code(model_path: str | Path) -> list[tuple[str, str]]:
    """The model's held-out standard-library files found unchanged here, ``(label, text)``;
    empty for a model folder without ``heldout.json`` (e.g. a downloaded Qwen model)."""
    from evolution.pretrain.heldout import heldout_files

    try:
        found = heldout_files(model_path)
    except FileNotFoundError:
        return []
    return [(label, text) for label, text in found.files if label.startswith(GENERAL_SOURCE + ":")]


def collect_workspace(config: FinetuneConfig, data_dir: Path, model_path: str) -> WorkspaceData:
    """The workspace's data now, refused early when it gives nothing to train or judge on."""
    root = Path(config.workspace).expanduser()
    if not root.is_dir():
        raise DataError(f"the workspace {root} is not a folder: pass --workspace DIR")
    data = build_workspace_data(
        root,
        outcome_records=read_outcome_log(data_dir),
        protected=general_code(model_path),
    )
    if not data.train_files:
        raise DataError(
            f"no Python file to train on in {data.root} ({_skips(data)}); a completion "
            "adapter learns from the workspace's own .py files"
        )
    if not data.heldout_files:
        raise DataError(
            f"{data.root} holds no file out for the gate ({len(data.train_files)} kept, "
            f"{_skips(data)}): a completion adapter needs at least two Python files"
        )
    return data


def write_snapshot(folder: Path, data: WorkspaceData) -> str:
    """Freeze ``data`` in the run folder; returns its hash (the adapter's data hash)."""
    body = {
        "schema": SNAPSHOT_SCHEMA,
        "root": str(data.root),
        "repo_name": data.repo_name,
        **{name: [dataclasses.asdict(item) for item in getattr(data, name)] for name in _LISTS},
        "records_not_used": dict(data.records_not_used),
        "benchmarks": data.benchmarks,
    }
    text = json.dumps(body, ensure_ascii=False)
    (folder / SNAPSHOT).write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def read_snapshot(folder: Path) -> WorkspaceData:
    """The workspace as the run froze it."""
    try:
        body = json.loads((folder / SNAPSHOT).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResumeError(f"{folder} has no readable {SNAPSHOT}: {exc}") from exc
    lists = {name: [kind(**item) for item in body[name]] for name, kind in _LISTS.items()}
    return WorkspaceData(
        Path(body["root"]),
        body["repo_name"],
        records_not_used=Counter(body["records_not_used"]),
        benchmarks=body["benchmarks"],
        **lists,
    )


# The repo-level layout puts other files' heads beside a chunk: on PyYAML, chunks aimed at
# max_length made examples of up to 1.5x it (45% skipped as too long); at 0.6x none was
# skipped at max_length=512, and shorter chunks give more middles per token trained on.
CHUNK_SHARE = 0.6


def example_config(config: FinetuneConfig, variant: int = 0) -> ExampleConfig:
    """Chunks sized to fit the training window with their context; each variant another seed."""
    context = int(config.max_length * CHUNK_SHARE)
    return ExampleConfig(context_tokens=context, seed=config.seed + variant)


def training_examples(data: WorkspaceData, config: FinetuneConfig) -> list[FimExample]:
    """Each training file's chunks once per variant, then each accepted completion once."""
    extra = range(1, config.workspace_fim_variants)
    more = [
        e
        for v in extra
        for e in file_examples(data.train_files, data.repo_name, example_config(config, v))
    ]
    return data.examples(example_config(config)) + more


def heldout_examples(data: WorkspaceData, config: FinetuneConfig) -> list[FimExample]:
    """The gate's loss examples: held-out files and their targets, never trained on."""
    setup = example_config(config)
    return file_examples(data.heldout_files, data.repo_name, setup) + accepted_examples(
        data.heldout_targets, data.heldout_files, data.repo_name, setup
    )


def prepare_workspace_data(
    data: WorkspaceData, tokenizer: Any, config: FinetuneConfig
) -> PreparedData:
    """Tokenized training and held-out examples; a "record" here is a file."""
    renderer = ExampleRenderer(tokenizer, config.system_prompt)

    def render(examples: list[FimExample]) -> list[Example]:
        return [
            renderer.completion(
                e.question,
                e.middle,
                "repo-fim" if e.kind == "repo-fim" else "fim",
                f"{e.source}:{e.path}",
            )
            for e in examples
        ]

    stats = DataStats(
        records=len(data.train_files) + len(data.heldout_files),
        train_records=len(data.train_files),
        heldout_records=len(data.heldout_files),
    )
    train = render(training_examples(data, config))
    heldout = render(heldout_examples(data, config))
    return assemble_data(train, heldout, stats, config)


def workspace_report(data: WorkspaceData, config: FinetuneConfig) -> dict[str, Any]:
    """What the adapter's report says of its workspace: which files it never saw."""
    return {
        "root": str(data.root),
        "key": workspace_key(data.root),
        "repo_name": data.repo_name,
        "train_files": len(data.train_files),
        "heldout_files": [f.path for f in data.heldout_files],
        "accepted_targets": {
            "train": len(data.train_targets),
            "heldout": len(data.heldout_targets),
        },
        "skips": data.skip_counts(),
        "fim_variants": config.workspace_fim_variants,
    }


_LISTS = {
    "train_files": WorkspaceFile,
    "heldout_files": WorkspaceFile,
    "skips": Skip,
    "train_targets": AcceptedTarget,
    "heldout_targets": AcceptedTarget,
}


def _skips(data: WorkspaceData) -> str:
    counts = data.skip_counts()
    if not counts:
        return "nothing skipped"
    return "skipped: " + ", ".join(f"{n} {reason}" for reason, n in counts.items())
