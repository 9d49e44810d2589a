"""HumanEval-infill as the completion adapter's second check on general code (``completion_gate``).

Baseline and candidate run the first ``gate_infill_tasks`` tasks of ``humaneval-infill``
(single-line FIM cut from HumanEval's canonical solutions, ``evaluation.infill``) greedily, one
sample each, on the gate's one loaded model; the evaluation package scores them by running the
tests in its sandbox and stores each run like any ``evoselfcode eval`` run. The candidate passes
when its pass@1 is not lower than the baseline's by more than ``infill_margin`` (the point
estimate, read as the general-code margin is); the exact McNemar p on the tasks only one side
passed is reported beside it. Edit similarity says a completion looks like the hidden line;
this says the code still runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evaluation.infill import INFILL_DATASET
from evolution.finetune.config import FinetuneConfig
from evolution.finetune.errors import EvaluationUnavailable
from evolution.finetune.events import RunEvents
from evolution.finetune.gate import Criterion
from evolution.finetune.stats import mcnemar_exact

if TYPE_CHECKING:
    from models import CancelToken, CodeModel

INFILL_CRITERION = "humaneval_infill"


@dataclass(frozen=True)
class InfillRun:
    """One side's pass/fail per task and where its evaluation run is stored."""

    passed: dict[str, bool]
    out_dir: str


def run_infill(
    model: CodeModel,
    label: str,
    config: FinetuneConfig,
    *,
    data_dir: Path,
    events: RunEvents,
    cancel: CancelToken,
) -> InfillRun | None:
    """The model as it serves now (its active adapter) on the first ``gate_infill_tasks``
    tasks; None when ``cancel`` came first, ``EvaluationUnavailable`` when it cannot run."""
    from evaluation.api import EvalRequest, run_evaluation
    from evaluation.datasets import load_tasks
    from evaluation.errors import EvaluationError
    from models.errors import ModelError

    limit = config.gate_infill_tasks
    request = EvalRequest(dataset=INFILL_DATASET, limit=limit, data_dir=data_dir)
    try:
        total = len(load_tasks(INFILL_DATASET, limit))
        with events.progress(total, f"{INFILL_DATASET} ({label})") as bar:
            evaluation = run_evaluation(
                request,
                model=model,
                on_result=lambda p: bar.update(phase="gate", side=label, passed=p.passed),
                cancel=cancel,
            )
    except (EvaluationError, ModelError) as exc:
        raise EvaluationUnavailable(str(exc)) from exc
    if evaluation.report.cancelled or cancel.cancelled:
        return None
    rates = evaluation.report.task_pass_rates()
    passed = {task: rate > 0 for task, rate in rates.items()}
    return InfillRun(passed, str(evaluation.record.out_dir))


def judge_infill(
    baseline: Mapping[str, bool], candidate: Mapping[str, bool], config: FinetuneConfig
) -> Criterion:
    """Pass@1 on the tasks both sides ran, lower by at most ``infill_margin``."""
    margin = config.infill_margin
    tasks = sorted(set(baseline) & set(candidate))
    if not tasks:
        reason = f"no {INFILL_DATASET} task was scored for both"
        return Criterion(INFILL_CRITERION, False, reason, margin)
    n = len(tasks)
    base = sum(baseline[t] for t in tasks)
    cand = sum(candidate[t] for t in tasks)
    lost = [t for t in tasks if baseline[t] and not candidate[t]]
    gained = sum(1 for t in tasks if candidate[t] and not baseline[t])
    difference = (cand - base) / n
    p_value = mcnemar_exact(len(lost), gained)
    passed = difference >= -margin - 1e-9  # on the margin passes, whatever the float rounding
    reason = (
        f"{INFILL_DATASET} pass@1 {base / n:.3f} ({base}/{n}) → {cand / n:.3f} ({cand}/{n}) "
        f"({100 * difference:+.2f} points; {gained} gained, {len(lost)} lost, McNemar p = "
        f"{p_value:.3g}; {'within' if passed else 'beyond'} the margin -{100 * margin:g} points)"
    )
    details = {
        "dataset": INFILL_DATASET,
        "tasks": n,
        "baseline_passed": base,
        "candidate_passed": cand,
        "baseline_pass_at_1": base / n,
        "candidate_pass_at_1": cand / n,
        "difference": difference,
        "only_baseline_passed": len(lost),
        "only_candidate_passed": gained,
        "mcnemar_p": p_value,
        "lost_tasks": lost,
    }
    return Criterion(INFILL_CRITERION, passed, reason, margin, details=details)
