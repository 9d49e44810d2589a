"""The decoding loops: one sequence (streaming, stop checks, prefix cache, speculation) and a
left-padded batch.

Both call ``forward(input_ids[B,T], position_ids[B,T], cache, attention_mask[B,S] | None)`` which
returns the last position's logits ``[B, vocab]`` in float32; speculation also calls
``forward_tail(input_ids[1,T], position_ids[1,T], cache, keep)`` for the last ``keep``
positions' logits ``[1, keep, vocab]``. Cancellation and the wall-clock limit are checked before
every token and between prefill chunks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models.decode_steps import DecodeSteps
from models.encoding import Codec
from models.healing import remaining
from models.sampling import TokenPicker
from models.speculation import DraftGovernor, Speculation
from models.textstream import IncrementalDecoder, StopStrings
from models.types import (
    CancelToken,
    FinishReason,
    Generation,
    SamplingParams,
    StopCheck,
    TextCallback,
)

if TYPE_CHECKING:
    import torch

Forward = Callable[..., "torch.Tensor"]


class Deadline:
    """Why a generation must end now, if it must: cancelled, or out of time; and whether its
    time box (``SamplingParams.time_box_s``) has closed, after which it ends at a line end."""

    def __init__(
        self,
        started: float,
        limit_s: float | None,
        cancel: CancelToken | None,
        time_box_s: float | None = None,
    ) -> None:
        self._end = started + limit_s if limit_s is not None else None
        self._cancel = cancel
        self._box_end = started + time_box_s if time_box_s is not None else None

    def boxed(self) -> bool:
        """True once the time box has closed (never without one)."""
        return self._box_end is not None and time.monotonic() >= self._box_end

    def reason(self) -> FinishReason | None:
        if self._cancel is not None and self._cancel.cancelled:
            return "cancelled"
        if self._end is not None and time.monotonic() >= self._end:
            return "time"
        return None


@dataclass
class Runtime:
    """What the loops need from the loaded model."""

    forward: Forward
    new_cache: Callable[[], Any]
    codec: Codec
    device: str
    prefill_chunk: int = 512
    forward_tail: Forward | None = None  # without it, no speculation
    # (caches of one row each, width) -> one cache of all rows, left-padded to ``width``;
    # ``decode_batch`` needs it
    stack_caches: Callable[[list[Any], int], Any] | None = None


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0


class Output:
    """Generated tokens becoming text: streaming, stop strings, ``stop_check``, the length cap
    and the time box (``deadline``).

    Every token goes through ``take`` in order, drafted or not, so stops and streaming behave
    the same with and without speculation.
    """

    def __init__(
        self,
        codec: Codec,
        params: SamplingParams,
        on_text: TextCallback | None = None,
        stop_check: StopCheck | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.tokens: list[int] = []
        self.stops = StopStrings(params.stop)
        self.reason: FinishReason | None = None
        self._decoder = IncrementalDecoder(codec.decode)
        self._stop_ids = codec.stop_ids
        self._max_new = params.max_new_tokens
        self._on_text = on_text
        self._stop_check = stop_check
        self._deadline = deadline
        self._codec = codec
        self._heal_due = params.heal  # still to be written by the tokens picked
        self._heal_hidden = params.heal  # still to be cut from the text shown

    @property
    def healing(self) -> bool:
        """True while token healing restricts the next token (drafts wait until it ends)."""
        return bool(self._heal_due)

    def constrain(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits`` [1, vocab] with every token that does not write the healed text masked
        out, while some of it is due; as they are otherwise."""
        if not self._heal_due:
            return logits
        import torch

        allowed = self._codec.heal_index.allowed(self._heal_due)
        masked = torch.full_like(logits, float("-inf"))
        index = torch.tensor(allowed, dtype=torch.long, device=logits.device)
        masked[:, index] = logits[:, index]
        return masked

    def take(self, token: int) -> bool:
        """Add one token; true when the output is finished (``reason`` says why)."""
        if self._deadline is not None and self._deadline.boxed():
            self._show(self.stops.end_at_line_end())
            if self.stops.stopped:  # the text had just reached a line end: this token goes
                self.reason = "time-box"
                return True
        if token in self._stop_ids:
            self.reason = "eos"
            return True
        self.tokens.append(token)
        if self._heal_due:
            self._heal_due = remaining(self._heal_due, self._codec.decode([token]))
        self._show(self.stops.feed(self._unhealed(self._decoder.push(token))))
        checked = self._stop_check is not None and self._stop_check(self.stops.text)
        if self.stops.boxed:
            self.reason = "time-box"
        elif self.stops.stopped or checked:
            self.reason = "stop"
        elif len(self.tokens) >= self._max_new:
            self.reason = "length"
        return self.reason is not None

    def finish(self, fallback: FinishReason | None) -> FinishReason:
        """Release held-back text; a stop string completed by it makes the reason ``"stop"``."""
        if not self.stops.stopped:
            self._show(self.stops.feed(self._unhealed(self._decoder.flush())) + self.stops.finish())
        if self.stops.stopped:
            self.reason = "time-box" if self.stops.boxed else "stop"
        self.reason = self.reason or fallback
        assert self.reason is not None
        return self.reason

    def _unhealed(self, piece: str) -> str:
        """``piece`` without the healed text it starts with (the prompt already had it)."""
        hidden = self._heal_hidden
        cut = next(
            (i for i, (a, b) in enumerate(zip(piece, hidden, strict=False)) if a != b),
            min(len(piece), len(hidden)),
        )
        self._heal_hidden = self._heal_hidden[cut:]
        return piece[cut:]

    def _show(self, piece: str) -> None:
        if piece and self._on_text is not None:
            self._on_text(piece)


def prefill(
    rt: Runtime, ids: Sequence[int], cache: Any, n_cached: int, deadline: Deadline
) -> tuple[torch.Tensor | None, list[int], FinishReason | None]:
    """Feed ``ids[n_cached:]`` into ``cache`` (one row), chunked so that a cancel or the time
    limit lands between chunks of a long prompt. Returns the last position's logits
    ``[1, vocab]`` (None when nothing was fed), the ids ``cache`` now holds, and why it
    stopped early, if it did. Call under ``torch.inference_mode()``."""
    import torch

    fed = list(ids[:n_cached])
    logits = None
    pos = n_cached
    while pos < len(ids):
        end = min(len(ids), pos + rt.prefill_chunk)
        chunk = torch.tensor([ids[pos:end]], device=rt.device)
        positions = torch.arange(pos, end, device=rt.device)[None]
        logits = rt.forward(chunk, positions, cache, None)
        fed.extend(ids[pos:end])
        pos = end
        if pos < len(ids) and (reason := deadline.reason()):
            return logits, fed, reason
    return logits, fed, None


def decode_one(
    rt: Runtime,
    ids: Sequence[int],
    cache: Any,
    n_cached: int,
    params: SamplingParams,
    deadline: Deadline,
    *,
    on_text: TextCallback | None = None,
    stop_check: StopCheck | None = None,
    speculation: Speculation | None = None,
    governor: DraftGovernor | None = None,
) -> tuple[Generation, list[int]]:
    """Generate after ``ids`` whose first ``n_cached`` tokens are in ``cache``.

    With ``speculation`` a step feeds the last token plus a draft looked up in the text so far
    and keeps the drafted tokens the model agrees with (``models.decode_steps``); ``governor``
    (the model's, kept between calls) says where checking a draft pays.
    Returns the generation and the ids whose keys and values ``cache`` now holds.
    """
    import torch

    t_prefill = time.perf_counter()
    with torch.inference_mode():
        logits, fed, reason = prefill(rt, ids, cache, n_cached, deadline)
        prefill_ms = _ms(t_prefill)

        t_decode = time.perf_counter()
        out = Output(rt.codec, params, on_text, stop_check, deadline)
        loop = DecodeSteps(rt, params, ids, cache, fed, speculation, governor)
        if reason is None:
            assert logits is not None
            reason = loop.run(logits, out, deadline)
    reason = out.finish(reason)
    generation = Generation(
        text=out.stops.text,
        finish_reason=reason,
        prompt_tokens=len(ids),
        cached_tokens=n_cached,
        new_tokens=len(out.tokens),
        prefill_ms=prefill_ms,
        decode_ms=_ms(t_decode),
        token_ids=tuple(out.tokens),
        draft_tokens=loop.drafted,
        accepted_draft_tokens=loop.accepted,
    )
    return generation, fed


def decode_batch(
    rt: Runtime, rows: Sequence[Sequence[int]], params: SamplingParams, deadline: Deadline
) -> list[Generation]:
    """Generate after each of ``rows`` together (left padding); greedy equals one by one.

    Each row is prefilled on its own (``prefill_rows``) and the decode steps run on all of
    them at once. Finished rows leave the batch, so a long straggler does not pay for the
    others.
    """
    import torch

    width = max(len(r) for r in rows)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        mask[i, width - len(row) :] = 1
    mask = mask.to(rt.device)
    next_pos = torch.tensor([len(r) for r in rows], device=rt.device)  # [B]

    states = [Output(rt.codec, params, deadline=deadline) for _ in rows]
    active = list(range(len(rows)))
    picker = TokenPicker(params, rt.codec.stop_ids, rt.device)
    t_prefill = time.perf_counter()
    with torch.inference_mode():
        logits, cache, reason = prefill_rows(rt, rows, width, deadline)  # [B, vocab]
        prefill_ms = _ms(t_prefill)
        t_decode = time.perf_counter()
        for step in range(params.max_new_tokens if reason is None else 0):
            if reason := deadline.reason():
                break
            if any(states[i].healing for i in active):
                logits = torch.cat(
                    [states[i].constrain(logits[j : j + 1]) for j, i in enumerate(active)]
                )
            tokens = picker.pick(logits, step).tolist()
            keep = [j for j, i in enumerate(active) if not states[i].take(tokens[j])]
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=rt.device)
                cache.batch_select_indices(index)
                mask, next_pos = mask[index], next_pos[index]
                active = [active[j] for j in keep]
            step_ids = torch.tensor([[tokens[j]] for j in keep], device=rt.device)
            mask = torch.cat([mask, mask.new_ones((len(keep), 1))], dim=-1)
            logits = rt.forward(step_ids, next_pos[:, None], cache, mask)
            next_pos = next_pos + 1
    decode_ms = _ms(t_decode)
    fallback: FinishReason = reason or "length"
    reasons: list[FinishReason] = [s.finish(fallback) for s in states]  # flushes held text
    return [
        Generation(
            text=state.stops.text,
            finish_reason=why,
            prompt_tokens=len(row),
            new_tokens=len(state.tokens),
            prefill_ms=prefill_ms,
            decode_ms=decode_ms,
            token_ids=tuple(state.tokens),
        )
        for row, state, why in zip(rows, states, reasons, strict=True)
    ]


def prefill_rows(
    rt: Runtime, rows: Sequence[Sequence[int]], width: int, deadline: Deadline
) -> tuple[torch.Tensor, Any, FinishReason | None]:
    """The last logits ``[B, vocab]`` of every row and one cache holding them all, left-padded
    to ``width``; and why it stopped early, if it did.

    Each row is prefilled alone, exactly as one generation would be, and the caches are then
    stacked (``Runtime.stack_caches``): prefilling on a CPU is bound by arithmetic, so one
    padded tensor would pay for its padding in full (a third of the positions of 16 prompts
    of 60 to 200 tokens, bench/batching.py).
    """
    import torch

    assert rt.stack_caches is not None, "a batch needs an engine that stacks caches"
    caches, last = [], []
    for row in rows:
        cache = rt.new_cache()
        logits, _, reason = prefill(rt, row, cache, 0, deadline)
        if reason is not None:
            return torch.empty(0), None, reason
        assert logits is not None
        caches.append(cache)
        last.append(logits)
    return torch.cat(last), rt.stack_caches(caches, width), None
