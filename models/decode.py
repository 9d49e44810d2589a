"""The decoding loops: one sequence (streaming, stop checks, prefix cache) and a left-padded batch.

Both call ``forward(input_ids[B,T], position_ids[B,T], cache, attention_mask[B,S] | None)`` which
returns the last position's logits ``[B, vocab]`` in float32. Cancellation and the wall-clock
limit are checked before every token and between prefill chunks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models.encoding import Codec
from models.sampling import TokenPicker
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
    """Why a generation must end now, if it must: cancelled, or out of time."""

    def __init__(self, started: float, limit_s: float | None, cancel: CancelToken | None) -> None:
        self._end = started + limit_s if limit_s is not None else None
        self._cancel = cancel

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


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0


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
) -> tuple[Generation, list[int]]:
    """Generate after ``ids`` whose first ``n_cached`` tokens are in ``cache``.

    Returns the generation and the ids whose keys and values ``cache`` now holds.
    """
    import torch

    fed = list(ids[:n_cached])
    reason: FinishReason | None = None
    logits = None
    t_prefill = time.perf_counter()
    with torch.inference_mode():
        pos = n_cached
        while pos < len(ids):  # chunked so a cancel lands between chunks of a long prompt
            end = min(len(ids), pos + rt.prefill_chunk)
            chunk = torch.tensor([ids[pos:end]], device=rt.device)
            positions = torch.arange(pos, end, device=rt.device)[None]
            logits = rt.forward(chunk, positions, cache, None)
            fed.extend(ids[pos:end])
            pos = end
            if pos < len(ids) and (reason := deadline.reason()):
                break
        prefill_ms = _ms(t_prefill)

        t_decode = time.perf_counter()
        generated: list[int] = []
        decoder = IncrementalDecoder(rt.codec.decode)
        stops = StopStrings(params.stop)
        picker = TokenPicker(params, rt.codec.stop_ids, rt.device)
        while reason is None:
            if reason := deadline.reason():
                break
            assert logits is not None
            token = int(picker.pick(logits, len(generated))[0])
            if token in rt.codec.stop_ids:
                reason = "eos"
                break
            generated.append(token)
            piece = stops.feed(decoder.push(token))
            if piece and on_text is not None:
                on_text(piece)
            if stops.stopped or (stop_check is not None and stop_check(stops.text)):
                reason = "stop"
            elif len(generated) >= params.max_new_tokens:
                reason = "length"
            else:
                step = torch.tensor([[token]], device=rt.device)
                logits = rt.forward(step, torch.tensor([[len(fed)]], device=rt.device), cache, None)
                fed.append(token)
        if not stops.stopped:
            tail = stops.feed(decoder.flush())
            tail += stops.finish()
            if tail and on_text is not None:
                on_text(tail)
            if stops.stopped:
                reason = "stop"
    assert reason is not None
    generation = Generation(
        text=stops.text,
        finish_reason=reason,
        prompt_tokens=len(ids),
        cached_tokens=n_cached,
        new_tokens=len(generated),
        prefill_ms=prefill_ms,
        decode_ms=_ms(t_decode),
        token_ids=tuple(generated),
    )
    return generation, fed


@dataclass
class _Row:
    """One sequence of a batch while it is being generated."""

    decoder: IncrementalDecoder
    stops: StopStrings
    generated: list[int] = field(default_factory=list)
    reason: FinishReason | None = None

    def push(self, token: int, stop_ids: frozenset[int], max_new: int) -> bool:
        """Take one token; true when this row is finished."""
        if token in stop_ids:
            self.reason = "eos"
            return True
        self.generated.append(token)
        self.stops.feed(self.decoder.push(token))
        if self.stops.stopped:
            self.reason = "stop"
        elif len(self.generated) >= max_new:
            self.reason = "length"
        return self.reason is not None

    def finish(self, fallback: FinishReason) -> None:
        if not self.stops.stopped:
            self.stops.feed(self.decoder.flush())
            self.stops.finish()
        if self.stops.stopped:
            self.reason = "stop"
        self.reason = self.reason or fallback


def decode_batch(
    rt: Runtime, rows: Sequence[Sequence[int]], params: SamplingParams, deadline: Deadline
) -> list[Generation]:
    """Generate after each of ``rows`` together (left padding); greedy equals one by one.

    Finished rows leave the batch, so a long straggler does not pay for the others.
    """
    import torch

    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), rt.codec.pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # real tokens count from 0 after the padding
    input_ids, mask, positions = (t.to(rt.device) for t in (input_ids, mask, positions))

    states = [_Row(IncrementalDecoder(rt.codec.decode), StopStrings(params.stop)) for _ in rows]
    active = list(range(len(rows)))
    picker = TokenPicker(params, rt.codec.stop_ids, rt.device)
    reason: FinishReason | None = None
    t_prefill = time.perf_counter()
    with torch.inference_mode():
        cache = rt.new_cache()
        logits = rt.forward(input_ids, positions, cache, mask)  # [B, vocab]
        prefill_ms = _ms(t_prefill)
        t_decode = time.perf_counter()
        next_pos = positions[:, -1] + 1  # [B]
        for step in range(params.max_new_tokens):
            if reason := deadline.reason():
                break
            tokens = picker.pick(logits, step).tolist()
            keep = [
                j
                for j, i in enumerate(active)
                if not states[i].push(tokens[j], rt.codec.stop_ids, params.max_new_tokens)
            ]
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
    results = []
    for row, state in zip(rows, states, strict=True):
        state.finish(reason or "length")
        assert state.reason is not None
        results.append(
            Generation(
                text=state.stops.text,
                finish_reason=state.reason,
                prompt_tokens=len(row),
                new_tokens=len(state.generated),
                prefill_ms=prefill_ms,
                decode_ms=decode_ms,
                token_ids=tuple(state.generated),
            )
        )
    return results
