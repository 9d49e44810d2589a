"""Baseline and candidate on the same tasks (``eval_dataset``), through the evaluation package.

One serving model is loaded (``models.load_model``, as the editor loads it) and both sides are
scored on it by switching LoRA adapters, so the base weights are read once. Each evaluation is
stored like any ``evoselfcode eval`` run (``{data_dir}/eval/<model>@<adapter id>/...``), so the
gate's numbers show up in the evaluation history too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from evolution.finetune.config import FinetuneConfig
from evolution.finetune.errors import EvaluationUnavailable
from evolution.finetune.events import RunEvents
from evolution.finetune.stopping import StopRequest

if TYPE_CHECKING:
    from evaluation.tasks import PromptFormat


@dataclass(frozen=True)
class Side:
    """One model to score: the adapter (None: base) and the name it is loaded under."""

    name: str
    adapter: Path | None


@dataclass
class PassRateOutcome:
    """Per-task pass/fail of each side, or ``cancelled`` when a stop came first."""

    passed: dict[str, dict[str, bool]]
    out_dirs: dict[str, str]
    cancelled: bool = False


def pass_rate_pair(
    config: FinetuneConfig,
    sides: tuple[Side, Side],
    *,
    data_dir: Path,
    events: RunEvents,
    stop: StopRequest,
) -> PassRateOutcome:
    """Greedy pass@1 of both sides on the first ``config.eval_tasks`` tasks of the gate's set."""
    from evaluation.api import EvalRequest, run_evaluation
    from evaluation.datasets import load_tasks
    from evaluation.errors import EvaluationError
    from models import CancelToken, load_model
    from models.errors import ModelError

    cancel = CancelToken()
    stop.on_stop(cancel.cancel)
    limit = config.eval_tasks or None
    request = EvalRequest(
        dataset=config.eval_dataset,
        limit=limit,
        data_dir=data_dir,
        max_new_tokens=config.eval_max_new_tokens,
        # FinetuneConfig checked it is one of PROMPT_FORMATS
        prompt_format=cast("PromptFormat", config.eval_prompt_format),
    )
    outcome = PassRateOutcome(passed={}, out_dirs={})
    try:
        total = len(load_tasks(config.eval_dataset, limit))
        model = load_model(
            config.base_model,
            device=config.device,
            dtype=config.dtype,
            quantization=config.quantization,
            models_dir=config.models_dir or None,
        )
        for side in sides:
            if side.adapter is not None:
                model.load_adapter(side.adapter, side.name)
            model.set_adapter(None if side.adapter is None else side.name)
            bar = events.progress(total, f"{config.eval_dataset} ({side.name})")
            with bar:
                evaluation = run_evaluation(
                    request,
                    model=model,
                    on_result=lambda p, bar=bar, name=side.name: bar.update(
                        phase="gate", side=name, passed=p.passed
                    ),
                    cancel=cancel,
                )
            if evaluation.report.cancelled or stop.requested:
                outcome.cancelled = True
                return outcome
            rates = evaluation.report.task_pass_rates()
            outcome.passed[side.name] = {task: rate > 0 for task, rate in rates.items()}
            outcome.out_dirs[side.name] = str(evaluation.record.out_dir)
    except (EvaluationError, ModelError) as exc:
        raise EvaluationUnavailable(str(exc)) from exc
    return outcome
