"""The completion adapter's gate: the user's own held-out code, replayed (issue 15, item 4).

A completion adapter (``FinetuneConfig.workspace``) is judged on what it is for, inline
completion, by the same measurement as ``bench/efficacy_repo.py``:

- **held-out files**: single-line holes (``evaluation.line_holes``, seeded) drawn from the
  workspace files the run held out by path, completed by the baseline and the candidate in the
  repo-level format with the file's path, as the server prompts inside a workspace;
- **held-out accepted completions**: each accepted-and-kept completion in a held-out file is
  one more hole (its first line, the cursor where the suggestion was shown);
- **general code**: a fixed sample of holes from the model's held-out standard-library files
  (``workspace_data.general_code``), file-level;
- **HumanEval-infill** (``infill_check``): the first ``gate_infill_tasks`` tasks of
  ``humaneval-infill``, single-line FIM cut from HumanEval's solutions, scored by running the
  tests: a second check on general code, by execution rather than by resemblance (0: off).

Scores (``hole_comparison``): edit similarity, exact match and valid-and-non-empty (the file
still parses as it did). These criteria replace the pair gate's pass rate in
``promotion.run_gate`` (``completion_judge``), beside its held-out loss criterion (here the
held-out files' FIM examples: not worse by more than ``loss_margin``). The candidate is
promoted when, on the workspace's holes, the edit similarity gain is positive and
statistically supported (Wilcoxon signed-rank p below ``1 - confidence``; the p-value and the
95% interval go into the report) while the share of valid, non-empty completions does not fall
significantly (McNemar at the same level), and edit similarity on general code is not lower by more
than ``general_margin`` (the point estimate, as ``bench/efficacy_repo.py`` states its target;
the interval is reported), and pass@1 on HumanEval-infill is not lower by more than
``infill_margin`` (``infill_check``).

One serving model is loaded, on the CPU, with the sides' adapters beside it, and the sides are
switched by adapter as ``pass_rate.py`` does: the base weights are read once per gate. A stop is
checked between holes and HumanEval-infill's cancel token is the same, so the judge gives up
(None) within a hole or a batch of tasks, not after a thousand holes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from evaluation.hole_completion import HoleRun, complete_holes
from evaluation.infill import INFILL_DATASET
from evaluation.line_holes import LineHole, draw_holes, hole_at, holes_in
from evolution.finetune.config import FinetuneConfig
from evolution.finetune.errors import EvaluationUnavailable
from evolution.finetune.events import RunEvents
from evolution.finetune.gate import Criterion
from evolution.finetune.hole_comparison import ScoreChange, compare_holes
from evolution.finetune.infill_check import INFILL_CRITERION, judge_infill, run_infill
from evolution.finetune.pass_rate import Side
from evolution.finetune.promotion import Baseline
from evolution.finetune.registry import AdapterRecord, AdapterRegistry
from evolution.finetune.stopping import StopRequest
from evolution.finetune.workspace_data import general_code
from evolution.workspace import AcceptedTarget, WorkspaceData, WorkspaceFile

if TYPE_CHECKING:
    from models import CancelToken, CodeModel


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
    """One model (base, or base + ``adapter``) loaded on the CPU for one side, as
    ``bench/efficacy_repo.py`` compares two; the gate loads once for both (``load_sides``)."""
    from models import load_model

    loaded = load_model(model_path, device="cpu", adapter=adapter)
    try:
        return complete_both(loaded, workspace_holes, general_holes, repo_name, label)
    finally:
        loaded.close()


def complete_both(
    model: CodeModel,
    workspace_holes: list[LineHole],
    general_holes: list[LineHole],
    repo_name: str,
    label: str,
    cancel: CancelToken | None = None,
) -> tuple[HoleRun, HoleRun]:
    """The loaded model on the workspace's holes (repo-level prompts) and on general code
    (file-level); both runs say ``cancelled`` when ``cancel`` cut them short."""
    workspace = complete_holes(
        model, workspace_holes, repo_name=repo_name, label=f"{label}, workspace", cancel=cancel
    )
    general = complete_holes(model, general_holes, label=f"{label}, general code", cancel=cancel)
    return workspace, general


def load_sides(model_path: str | Path, sides: Sequence[Side]) -> CodeModel:
    """The serving model, loaded once on the CPU, with each side's adapter loaded beside it
    under the side's name (none active)."""
    from models import load_model

    model = load_model(model_path, device="cpu")
    try:
        for side in sides:
            if side.adapter is not None:
                model.load_adapter(side.adapter, side.name)
    except BaseException:
        model.close()
        raise
    return model


def serve(model: CodeModel, side: Side) -> None:
    """Make the loaded model answer as ``side``: its adapter, or the plain base model."""
    model.set_adapter(None if side.adapter is None else side.name)


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
    Wilcoxon p below ``1 - confidence``, and no significant fall (McNemar, same level) in the
    share of completions that are non-empty and keep the file parsing: lines that look more
    like the file but break it more often are no better for the user (the server would filter
    them out)."""
    es, exact, valid = (changes[name] for name in ("edit_similarity", "exact", "valid_nonempty"))
    alpha = 1.0 - config.confidence
    gain = es.difference > 0 and es.p_value < alpha
    breaks_more = valid.difference < 0 and valid.p_value < alpha
    passed = gain and not breaks_more
    low, high = es.difference_interval
    pct = round(es.confidence * 100)
    reason = (
        f"edit similarity on {es.n} held-out holes ({accepted} of them accepted completions) "
        f"{es.before:.3f} → {es.after:.3f} ({100 * es.difference:+.2f} points, {pct}% interval "
        f"{100 * low:+.2f} to {100 * high:+.2f}, Wilcoxon p = {es.p_value:.3g}, "
        f"{'a gain' if gain else 'no gain'} at p < {alpha:.3g}); exact match "
        f"{exact.before:.3f} → {exact.after:.3f} (McNemar p = {exact.p_value:.3g}); valid and "
        f"non-empty {valid.before:.3f} → {valid.after:.3f} (McNemar p = {valid.p_value:.3g}"
        f"{', significantly fewer completions keep the file parsing' if breaks_more else ''})"
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


def infill_criterion(
    model: CodeModel,
    sides: tuple[Side, Side],
    config: FinetuneConfig,
    *,
    data_dir: Path,
    events: RunEvents,
    cancel: CancelToken,
) -> Criterion | None:
    """Criterion 3 (``infill_check``) on the loaded model; None when a stop came first. An
    evaluation that cannot run fails it, saying why: an unchecked adapter is not promoted."""
    margin = config.infill_margin
    if not config.gate_infill_tasks:
        reason = f"{INFILL_DATASET} not run: gate_infill_tasks is 0"
        return Criterion(INFILL_CRITERION, True, reason, margin)
    events.phase(
        "gate",
        f"{INFILL_DATASET}: {config.gate_infill_tasks} tasks, {sides[0].name} vs {sides[1].name}",
    )
    runs = []
    for side in sides:
        serve(model, side)
        try:
            run = run_infill(
                model, side.name, config, data_dir=data_dir, events=events, cancel=cancel
            )
        except EvaluationUnavailable as exc:
            reason = f"{INFILL_DATASET} could not run: {exc}"
            return Criterion(INFILL_CRITERION, False, reason, margin)
        if run is None:
            return None
        runs.append(run)
    base, cand = runs
    criterion = judge_infill(base.passed, cand.passed, config)
    criterion.details["eval_runs"] = {s.name: r.out_dir for s, r in zip(sides, runs, strict=True)}
    return criterion


def completion_judge(
    workspace: WorkspaceData,
    model_path: str,
    registry: AdapterRegistry,
    candidate: AdapterRecord,
    config: FinetuneConfig,
    events: RunEvents,
    stop: StopRequest,
    *,
    data_dir: Path,
) -> Callable[[Baseline], list[Criterion] | None]:
    """``promotion.run_gate``'s ``judge`` for a completion adapter: baseline and candidate
    complete the same holes and run the same HumanEval-infill tasks, after the trained model
    is released; HumanEval-infill's runs are stored under ``data_dir`` as evaluations."""

    def judge(baseline: Baseline) -> list[Criterion] | None:
        from models import CancelToken

        cancel = CancelToken()
        stop.on_stop(cancel.cancel)
        if cancel.cancelled:
            return None
        holes, accepted = gate_holes(workspace, config)
        general = draw_up_to(general_code(model_path), config.gate_general_holes, config.seed)
        sides = (
            Side(baseline.label, baseline.path),
            Side(candidate.id, registry.path_of(candidate.id)),
        )
        model = load_sides(model_path, sides)
        try:
            runs = []
            for side in sides:
                events.phase(
                    "gate", f"{side.name}: {len(holes)} workspace holes, {len(general)} general"
                )
                serve(model, side)
                runs.append(
                    complete_both(model, holes, general, workspace.repo_name, side.name, cancel)
                )
                if cancel.cancelled:
                    return None
            infill = infill_criterion(
                model, sides, config, data_dir=data_dir, events=events, cancel=cancel
            )
        finally:
            model.close()
        if infill is None:
            return None
        (base_ws, base_general), (cand_ws, cand_general) = runs
        compare = partial(compare_holes, confidence=config.confidence, seed=config.seed)
        in_general = compare(base_general.scores, cand_general.scores) if general else None
        return [
            judge_workspace(compare(base_ws.scores, cand_ws.scores), accepted, config),
            judge_general(in_general, config),
            infill,
        ]

    return judge
