"""One model run for one window, on the model thread: prompt, sampling, candidates, cleanup.

Shared by requests (``server.completion``) and prefetches (``server.prefetch``). It builds the
token-budgeted prompt, samples ``completion.candidates`` completions from one prefill, each
ending at its block end (``stop_check``), the time box or the time limit, and post-processes
them. The candidates that survive become suggestions, each text once, the first candidate's
first; when none survives, the first one's reason is the outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.context import InfillWindow
from server.postprocess import Filtered, PostProcessor, Suggestion
from server.settings import CompletionSettings

if TYPE_CHECKING:
    from models.types import CancelToken, CodeModel, Generation, SamplingParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Produced:
    """What one model run gave, and what it cost (for the status)."""

    outcome: tuple[Suggestion, ...] | Filtered  # suggestions: never empty, texts distinct
    prompt_tokens: int
    prefilled_tokens: int  # prompt tokens computed, for all candidates together
    time_boxed: bool  # a candidate ended at a line end because the time box closed


def sampling_params(
    settings: CompletionSettings, *, time_box: bool, heal: str = ""
) -> SamplingParams:
    """The request's ``SamplingParams``; ``time_box`` false for work nobody waits for;
    ``heal`` the text the prompt left for the answer to begin with (token healing)."""
    from models.types import SamplingParams

    boxed = time_box and settings.time_box_ms > 0
    return SamplingParams(
        max_new_tokens=settings.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        time_limit_s=settings.timeout_ms / 1000,
        time_box_s=settings.time_box_ms / 1000 if boxed else None,
        heal=heal,
    )


def generate_suggestions(
    model: CodeModel,
    window: InfillWindow,
    processor: PostProcessor,
    settings: CompletionSettings,
    token: CancelToken,
    *,
    time_box: bool = True,
) -> Produced:
    """Runs on the model thread."""
    from models.prompts import InfillContext, build_infill_prompt

    context = InfillContext(
        prefix=window.prefix,
        suffix=window.suffix,
        path=window.path,
        repo_name=window.repo_name,
        other_files=[(f.path, f.text) for f in window.other_files],
    )
    infill = build_infill_prompt(
        model,
        context,
        budget_tokens=settings.context_tokens,
        prefix_share=settings.prefix_share,
        heal=settings.token_healing,
    )
    log.debug(
        "generating for %s: %d-token prompt, %d other files, at most %d new tokens, "
        "%d candidate(s)",
        window.uri,
        infill.tokens,
        len(infill.files),
        settings.max_tokens,
        settings.candidates,
    )
    params = sampling_params(settings, time_box=time_box, heal=infill.heal)
    if settings.candidates == 1:  # the plain path, with speculative decoding where it pays
        stop_check = processor.stop_check
        generations = [model.generate(infill.prompt, params, cancel=token, stop_check=stop_check)]
    else:
        generations = model.generate_candidates(
            infill.prompt,
            params,
            settings.candidates,
            cancel=token,
            stop_check=processor.stop_check,
        )
    first = generations[0]
    log.debug(
        "generated %s tokens (%s) after a %d-token prompt (%d cached): "
        "prefill %.0f ms, decode %.0f ms",
        "+".join(str(g.new_tokens) for g in generations),
        ", ".join(g.finish_reason for g in generations),
        first.prompt_tokens,
        first.cached_tokens,
        first.prefill_ms,
        first.decode_ms,
    )
    return Produced(
        outcome=_suggestions(processor, generations),
        prompt_tokens=first.prompt_tokens,
        prefilled_tokens=sum(g.prompt_tokens - g.cached_tokens for g in generations),
        time_boxed=any(g.finish_reason == "time-box" for g in generations),
    )


def _suggestions(
    processor: PostProcessor, generations: list[Generation]
) -> tuple[Suggestion, ...] | Filtered:
    kept: list[Suggestion] = []
    first_reason: Filtered | None = None
    for generation in generations:
        result = processor.process(generation.text)
        if isinstance(result, Filtered):
            first_reason = first_reason or result
        elif result not in kept:
            kept.append(result)
    if kept:
        return tuple(kept)
    assert first_reason is not None
    return first_reason
