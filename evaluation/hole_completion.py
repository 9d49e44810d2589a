"""Completing single-line holes (``evaluation.line_holes``) the way the editor completes them.

Each hole gets ``build_infill_prompt``'s prompt fitted into the model's window, greedy
decoding of at most ``MAX_NEW_TOKENS`` tokens that stops at the line end, and the first line
scored by ``line_holes.score``. With ``repo_name`` the prompt is the repo-level one with the
hole's ``file`` as its path, as the server prompts inside a workspace folder; without it, the
file-level one. A ``models.CancelToken`` stops the run between holes (and within one: the
hole being completed is dropped), so a caller that must stop promptly need not wait for a
thousand holes. ``bench/model_quality.py``, ``bench/efficacy_repo.py`` and the completion
adapter's gate all complete holes through here, so they measure the same thing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from evaluation.line_holes import HoleScore, LineHole, score

if TYPE_CHECKING:
    from models import CancelToken

MAX_NEW_TOKENS = 48


@dataclass
class HoleRun:
    """One model's completions of a list of holes, in the holes' order."""

    scores: list[HoleScore] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    cancelled: bool = False  # stopped by a cancel: fewer scores than holes


def complete_holes(
    model: Any,
    holes: Sequence[LineHole],
    *,
    repo_name: str | None = None,
    heal: bool = False,
    label: str = "",
    report_every: int = 100,
    cancel: CancelToken | None = None,
) -> HoleRun:
    """Complete every hole with ``model`` (a ``models.CodeModel``), or those before ``cancel``
    was set; progress to stderr."""
    from models import SamplingParams
    from models.prompts import InfillContext, build_infill_prompt

    params = SamplingParams(max_new_tokens=MAX_NEW_TOKENS, temperature=0.0, stop=("\n",))
    budget = model.info.context_window - MAX_NEW_TOKENS
    run = HoleRun()
    for index, hole in enumerate(holes):
        if cancel is not None and cancel.cancelled:
            run.cancelled = True
            break
        started = time.perf_counter()
        path = hole.file if repo_name else None
        context = InfillContext(hole.prefix, hole.suffix, path=path, repo_name=repo_name)
        infill = build_infill_prompt(model, context, budget, heal=heal)
        text = model.generate(infill.prompt, replace(params, heal=infill.heal), cancel=cancel).text
        if cancel is not None and cancel.cancelled:  # cut short: not the model's completion
            run.cancelled = True
            break
        run.seconds.append(time.perf_counter() - started)
        run.outputs.append(text)
        run.scores.append(score(hole, text))
        if label and report_every and (index + 1) % report_every == 0:
            print(f"  {label}: {index + 1}/{len(holes)} holes", file=sys.stderr)
    return run
