"""``evoselfcode workspace-data``'s text report: what would be trained on, and what not."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence

from evolution.workspace.accepted import RECORD_REASONS, read_outcome_log
from evolution.workspace.data import REASONS, WorkspaceData, WorkspaceOptions, build_workspace_data
from evolution.workspace.examples import ExampleConfig, FimExample

PATHS_SHOWN = 20  # per list; --json lists everything
SKIPS_SHOWN = 3  # example paths per skip reason


def run_from_args(args: argparse.Namespace) -> int:
    """The command: 0 printed, 2 no such folder."""
    from models.paths import resolve_data_dir

    options = {}  # what was not given keeps the library's default
    if args.heldout_share is not None:
        options["heldout_share"] = args.heldout_share
    if args.max_file_kib is not None:
        options["max_file_bytes"] = args.max_file_kib * 1024
    try:
        data = build_workspace_data(
            args.folder,
            outcome_records=read_outcome_log(resolve_data_dir(args.data_dir)),
            options=WorkspaceOptions(**options),
        )
    except NotADirectoryError as exc:
        print(f"evoselfcode workspace-data: {exc}", file=sys.stderr)
        return 2
    tokens = {} if args.context_tokens is None else {"context_tokens": args.context_tokens}
    examples = data.examples(ExampleConfig(**tokens))
    if args.json:
        print(json.dumps(data.summary(examples), ensure_ascii=False, indent=1))
    else:
        print(describe(data, examples))
    return 0


def describe(data: WorkspaceData, examples: Sequence[FimExample]) -> str:
    lines = [f"workspace {data.repo_name} ({data.root})"]
    lines.append(f"  training files: {len(data.train_files)}")
    lines += _paths([f.path for f in data.train_files])
    lines.append(f"  held out by path (never trained on, for the gate): {len(data.heldout_files)}")
    lines += _paths([f.path for f in data.heldout_files])
    lines.append(f"  left out: {len(data.skips)}")
    for reason, count in data.skip_counts().items():
        skips = [s for s in data.skips if s.reason == reason]
        folders = sum(s.is_folder for s in skips)
        what = f"{count - folders} files" + (f", {folders} folders" if folders else "")
        lines.append(f"    {reason}: {what} ({REASONS.get(reason, reason)})")
        lines += [
            f"      {s.path}" + (f"  {s.detail}" if s.detail else "") for s in skips[:SKIPS_SHOWN]
        ]
        if len(skips) > SKIPS_SHOWN:
            lines.append(f"      … {len(skips) - SKIPS_SHOWN} more")
    by_kind = Counter(f"{e.source}:{e.kind}" for e in examples)
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(by_kind.items()))
    lines.append(f"  examples: {len(examples)}" + (f" ({kinds})" if kinds else ""))
    lines.append(
        f"  accepted completions: {len(data.train_targets)} targets in training files, "
        f"{len(data.heldout_targets)} in held-out files (kept for the gate)"
    )
    for target in data.train_targets[:PATHS_SHOWN]:
        lines.append(f"    {target.path}@{target.start}: {_short(target.middle)}")
    for reason, count in data.records_not_used.most_common():
        lines.append(f"    not used: {count} {reason} ({RECORD_REASONS.get(reason, reason)})")
    benchmarks = ", ".join(data.benchmarks) or "none available"
    lines.append(f"  decontaminated against: {benchmarks}")
    return "\n".join(lines)


def _paths(paths: Sequence[str]) -> list[str]:
    lines = [f"    {path}" for path in paths[:PATHS_SHOWN]]
    if len(paths) > PATHS_SHOWN:
        lines.append(f"    … {len(paths) - PATHS_SHOWN} more (--json lists all)")
    return lines


def _short(text: str, chars: int = 60) -> str:
    flat = repr(text)[1:-1]
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"
