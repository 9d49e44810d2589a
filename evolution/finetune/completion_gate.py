"""The completion adapter's gate: the user's own held-out code, replayed (issue 15, item 4).

A completion adapter (``FinetuneConfig.workspace``) is judged on what it is for, inline
completion, by the same measurement as ``bench/efficacy_repo.py``:

- **held-out files**: single-line holes (``evaluation.line_holes``, seeded) drawn from the
  workspace files the run held out by path, completed by the baseline and the candidate in the
  repo-level format with the file's path, as the server prompts inside a workspace;
- **held-out accepted completions**: each accepted-and-kept completion in a held-out file is
  one more hole (its first line, the cursor where the suggestion was shown);
- **general code**: a fixed sample of holes from the model's held-out standard-library files
  (``workspace_data.general_code``), file-level.

Scores (``hole_comparison``): edit similarity, exact match and valid-and-non-empty (the file
still parses as it did). These criteria replace the pair gate's pass rate in
``promotion.run_gate`` (``completion_judge``), beside its held-out loss criterion (here the
held-out files' FIM examples: not worse by more than ``loss_margin``). The candidate is
promoted when, on the workspace's holes, the edit similarity gain is positive and
statistically supported (Wilcoxon signed-rank p below ``1 - confidence``; the p-value and the
95% interval go into the report), and edit similarity on general code is not lower by more
than ``general_margin`` (the point estimate, as ``bench/efficacy_repo.py`` states its target;
the interval is reported).
Not here yet: HumanEval-infill as a second regression check, and watching live acceptance
after a promotion to roll back by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from evaluation.hole_completion import HoleRun, complete_holes
from evaluation.line_holes import LineHole, draw_holes, hole_at, holes_in
from evolution.finetune.config import FinetuneConfig
from evolution.finetune.events import RunEvents
from evolution.finetune.gate import Criterion
from evolution.finetune.hole_comparison import ScoreChange, compare_holes
from evolution.finetune.promotion import Baseline
from evolution.finetune.registry import AdapterRecord, AdapterRegistry
from evolution.finetune.stopping import StopRequest
from evolution.finetune.workspace_data import general_code
from evolution.workspace import AcceptedTarget, WorkspaceData, WorkspaceFile


def draw_up_to(files: Sequence[tuple[str, str]], wanted: int, seed: int) -> list[LineHole]:
    """``wanted`` holes of ``files`` (seeded), or every candidate line when there are fewer."""
    available = sum(len(holes_in(label, text)) for label, text in files)
    return draw_holes(files, min(wanted, available), seed)


def complete_sides(
    model_path: str | Path,
    adapter: str | Path | None,
    workspace_holes: list[LineHole],
    general_holes: list[LineHole],
    repo_name: str,
    label: str,
) -> tuple[HoleRun, HoleRun]:
    """One model (base, or base + ``adapter``) on the workspace's holes (repo-level prompts)
    and on general code (file-level), loaded once, on the CPU."""
    from models import load_model

    loaded = load_model(model_path, device="cpu", adapter=adapter)
    try:
        workspace = complete_holes(
            loaded, workspace_holes, repo_name=repo_name, label=f"{label}, workspace"
        )
        general = complete_holes(loaded, general_holes, label=f"{label}, general code")
    finally:
        loaded.close()
    return workspace, general


def target_holes(
    targets: Sequence[AcceptedTarget], files: Sequence[WorkspaceFile]
) -> list[LineHole]:
    """One hole per accepted completion: its first line, the cursor where it was shown."""
    texts = {f.path: f.text for f in files}
    holes = []
    for target in targets:
        first = target.middle.split("\n", 1)[0]
        if first.strip():
            text = texts[target.path]
            holes.append(hole_at(target.path, text, target.start, target.start + len(first)))
    return holes


def gate_holes(workspace: WorkspaceData, config: FinetuneConfig) -> tuple[list[LineHole], int]:
    """The workspace's holes (held-out files, then held-out accepted completions) and how
    many of them are accepted completions."""
    files = [(f.path, f.text) for f in workspace.heldout_files]
    accepted = target_holes(workspace.heldout_targets, workspace.heldout_files)
    return draw_up_to(files, config.gate_holes, config.seed) + accepted, len(accepted)


def judge_workspace(
    changes: dict[str, ScoreChange], accepted: int, config: FinetuneConfig
) -> Criterion:
    """Criterion 1: a positive edit-similarity gain on the workspace's held-out holes with
    Wilcoxon p below ``1 - confidence``."""
    es, exact, valid = (changes[name] for name in ("edit_similarity", "exact", "valid_nonempty"))
    alpha = 1.0 - config.confidence
    passed = es.difference > 0 and es.p_value < alpha
    low, high = es.difference_interval
    pct = round(es.confidence * 100)
    reason = (
        f"edit similarity on {es.n} held-out holes ({accepted} of them accepted completions) "
        f"{es.before:.3f} → {es.after:.3f} ({100 * es.difference:+.2f} points, {pct}% interval "
        f"{100 * low:+.2f} to {100 * high:+.2f}, Wilcoxon p = {es.p_value:.3g}, "
        f"{'a gain' if passed else 'no gain'} at p < {alpha:.3g}); exact match "
        f"{exact.before:.3f} → {exact.after:.3f} (McNemar p = {exact.p_value:.3g}); valid and "
        f"non-empty {valid.before:.3f} → {valid.after:.3f} (McNemar p = {valid.p_value:.3g})"
    )
    details = {name: change.to_dict() for name, change in changes.items()}
    return Criterion("workspace_completions", passed, reason, 0.0, details=details)


def judge_general(changes: dict[str, ScoreChange] | None, config: FinetuneConfig) -> Criterion:
    """Criterion 2: edit similarity on general code lower by at most ``general_margin``."""
    margin = config.general_margin
    if changes is None:
        reason = "general code not checked: the model lists no held-out standard-library files"
        return Criterion("general_code", True, reason, margin)
    es = changes["edit_similarity"]
    passed = es.difference >= -margin
    low, high = es.difference_interval
    reason = (
        f"general code edit similarity {es.before:.3f} → {es.after:.3f} on {es.n} holes "
        f"({100 * es.difference:+.2f} points, {round(es.confidence * 100)}% interval "
        f"{100 * low:+.2f} to {100 * high:+.2f}; {'within' if passed else 'beyond'} the margin "
        f"-{100 * margin:g} points)"
    )
    details = {name: change.to_dict() for name, change in changes.items()}
    return Criterion("general_code", passed, reason, margin, details=details)


def completion_judge(
    workspace: WorkspaceData,
    model_path: str,
    registry: AdapterRegistry,
    candidate: AdapterRecord,
    config: FinetuneConfig,
    events: RunEvents,
    stop: StopRequest,
) -> Callable[[Baseline], list[Criterion] | None]:
    """``promotion.run_gate``'s ``judge`` for a completion adapter: baseline and candidate
    complete the same holes, after the trained model is released."""

    def judge(baseline: Baseline) -> list[Criterion] | None:
        holes, accepted = gate_holes(workspace, config)
        general = draw_up_to(general_code(model_path), config.gate_general_holes, config.seed)
        sides = ((baseline.label, baseline.path), (candidate.id, registry.path_of(candidate.id)))
        runs = []
        for label, adapter in sides:
            if stop.requested:
                return None
            events.phase("gate", f"{label}: {len(holes)} workspace holes, {len(general)} general")
            runs.append(
                complete_sides(model_path, adapter, holes, general, workspace.repo_name, label)
            )
        (base_ws, base_general), (cand_ws, cand_general) = runs
        compare = partial(compare_holes, confidence=config.confidence, seed=config.seed)
        in_general = compare(base_general.scores, cand_general.scores) if general else None
        return [
            judge_workspace(compare(base_ws.scores, cand_ws.scores), accepted, config),
            judge_general(in_general, config),
        ]

    return judge
