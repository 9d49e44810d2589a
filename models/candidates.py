"""Several completions of one prompt from one prefill: the editor's inline candidates.

The prompt is prefilled once into the usual one-row KV cache; a copy repeated to ``n`` rows
then decodes every candidate together, one forward per step for all of them (on a CPU a
decode step is bound by reading the weights, so n rows cost about what one does). The
one-row cache, which holds exactly the prompt, goes back to the prefix cache for the next
request. Candidate 0 is drawn with the request's own sampling, so with greedy decoding it is
the suggestion ``generate`` gives; the others sample (``candidate_params``). Rows leave the
batch as they finish; each passes the same stop, ``stop_check``, length, time-box and
deadline checks as a single generation.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from models.decode import Deadline, Output, Runtime, prefill
from models.errors import InvalidRequestError
from models.sampling import TokenPicker
from models.types import FinishReason, Generation, SamplingParams, StopCheck

if TYPE_CHECKING:
    import torch

# The temperature of the extra candidates of a greedy request: varied, still plausible (the
# temperature Codex-style pass@k sampling commonly uses).
CANDIDATE_TEMPERATURE = 0.8


def check_candidates(n: int) -> None:
    if n < 1:
        raise InvalidRequestError(f"the number of candidates must be at least 1, got {n}")


def candidate_params(params: SamplingParams, index: int) -> SamplingParams:
    """How candidate ``index`` is drawn: the first as asked; the others sample, at
    ``CANDIDATE_TEMPERATURE`` when the request is greedy, each from its own seed if one is set
    (the same seed would draw the same text)."""
    if index == 0:
        return params
    seed = None if params.seed is None else params.seed + index
    return dataclasses.replace(
        params, temperature=params.temperature or CANDIDATE_TEMPERATURE, seed=seed
    )


class _RowPickers:
    """Row 0 picks with the request's sampling, the other rows with the candidates'."""

    def __init__(self, params: SamplingParams, rt: Runtime) -> None:
        stop_ids = rt.codec.stop_ids
        self._first = TokenPicker(params, stop_ids, rt.device)
        self._rest = TokenPicker(candidate_params(params, 1), stop_ids, rt.device)

    def pick(self, logits: torch.Tensor, active: list[int], step: int) -> list[int]:
        """Next token of each active row. logits: [len(active), vocab]."""
        if active[0] != 0:
            return self._rest.pick(logits, step).tolist()
        head = self._first.pick(logits[:1], step).tolist()
        return head + (self._rest.pick(logits[1:], step).tolist() if len(active) > 1 else [])


def decode_candidates(
    rt: Runtime,
    ids: Sequence[int],
    cache: Any,
    n_cached: int,
    params: SamplingParams,
    n: int,
    deadline: Deadline,
    *,
    stop_check: StopCheck | None = None,
) -> tuple[list[Generation], list[int]]:
    """``n`` completions after ``ids``, whose first ``n_cached`` tokens are in ``cache``.

    Returns them (candidate 0 first) and the ids whose keys and values ``cache`` holds: the
    prompt's. Only candidate 0 counts the prefill (``cached_tokens``, ``prefill_ms``); the
    others found the whole prompt computed (``cached_tokens == prompt_tokens``).
    """
    import torch

    check_candidates(n)
    t_prefill = time.perf_counter()
    outs = [
        Output(rt.codec, candidate_params(params, i), stop_check=stop_check, deadline=deadline)
        for i in range(n)
    ]
    with torch.inference_mode():
        logits, fed, reason = prefill(rt, ids, cache, n_cached, deadline)
        prefill_ms = (time.perf_counter() - t_prefill) * 1000.0
        t_decode = time.perf_counter()
        if reason is None:
            assert logits is not None
            reason = _decode_rows(rt, cache, logits, len(ids), params, outs, deadline)
    decode_ms = (time.perf_counter() - t_decode) * 1000.0
    fallback: FinishReason = reason or "length"
    reasons: list[FinishReason] = [out.finish(fallback) for out in outs]
    generations = [
        Generation(
            text=out.stops.text,
            finish_reason=why,
            prompt_tokens=len(ids),
            cached_tokens=n_cached if i == 0 else len(ids),
            new_tokens=len(out.tokens),
            prefill_ms=prefill_ms if i == 0 else 0.0,
            decode_ms=decode_ms,
            token_ids=tuple(out.tokens),
        )
        for i, (out, why) in enumerate(zip(outs, reasons, strict=True))
    ]
    return generations, fed


def _decode_rows(
    rt: Runtime,
    cache: Any,
    logits: torch.Tensor,
    length: int,
    params: SamplingParams,
    outs: list[Output],
    deadline: Deadline,
) -> FinishReason | None:
    """Decode every row of ``outs`` from the prompt's ``logits`` [1, vocab] and ``cache``
    (left as it is: the rows decode in a copy). None when every row finished by itself."""
    import torch

    rows = copy.deepcopy(cache)
    rows.batch_repeat_interleave(len(outs))
    pickers = _RowPickers(params, rt)
    active = list(range(len(outs)))
    logits = logits.expand(len(outs), -1)  # [rows, vocab]
    position, step = length, 0
    while True:
        if reason := deadline.reason():
            return reason
        logits = torch.cat([outs[row].constrain(logits[j : j + 1]) for j, row in enumerate(active)])
        tokens = pickers.pick(logits, active, step)
        keep = [j for j, row in enumerate(active) if not outs[row].take(tokens[j])]
        if not keep:
            return None
        if len(keep) < len(active):
            rows.batch_select_indices(torch.tensor(keep, device=rt.device))
            active = [active[j] for j in keep]
        step_ids = torch.tensor([[tokens[j]] for j in keep], device=rt.device)  # [rows, 1]
        positions = torch.full((len(keep), 1), position, device=rt.device)  # [rows, 1]
        logits = rt.forward(step_ids, positions, rows, None)  # [rows, vocab]
        position, step = position + 1, step + 1
