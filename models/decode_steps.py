"""The decode steps of one sequence, with prompt-lookup speculation (``models.speculation``).

Each step feeds the last token, plus a draft when the text so far suggests one, and keeps the
drafted tokens the model agrees with: one forward can yield several tokens. Every token is
still chosen from the model's own logits and passes the same stop, length, cancel and time
checks in order, so greedy output is what plain decoding gives (exactly in float32; in lower
precision the wider forward can round a near-tie the other way, as batching can), and sampling
draws the same tokens from the same seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from models.sampling import TokenPicker
from models.speculation import DraftGovernor, NgramDrafter, Speculation
from models.types import FinishReason, SamplingParams

if TYPE_CHECKING:
    import torch

    from models.decode import Deadline, Output, Runtime


class DecodeSteps:
    """Decodes after a prefill. ``fed`` always lists the ids whose keys and values ``cache``
    holds. Without a draft (none found, not worth checking, speculation off, one token left)
    a step is exactly the plain one-token forward."""

    def __init__(
        self,
        rt: Runtime,
        params: SamplingParams,
        ids: Sequence[int],
        cache: Any,
        fed: list[int],
        speculation: Speculation | None = None,
        governor: DraftGovernor | None = None,
    ) -> None:
        self._rt, self._cache, self._fed = rt, cache, fed
        self._picker = TokenPicker(params, rt.codec.stop_ids, rt.device)
        self._max_new = params.max_new_tokens
        self._prompt_len = len(ids)
        self._drafter: NgramDrafter | None = None
        if speculation is not None and rt.forward_tail is not None:
            self._drafter = NgramDrafter(ids, speculation)
        self._governor = governor if speculation is not None and speculation.adaptive else None
        self._shadow: tuple[int, list[int]] | None = None  # an unchecked draft, to score later
        self.drafted = 0
        self.accepted = 0

    def run(self, logits: torch.Tensor, out: Output, deadline: Deadline) -> FinishReason | None:
        """Decode until ``out`` is finished or ``deadline`` says stop. logits: [1, vocab]."""
        rows, draft = logits, []  # rows: [1 + len(draft), vocab], row i follows draft[:i]
        while True:
            kept, reason = self._verify(rows, draft, out, deadline)
            surplus = len(draft) - kept
            if surplus:  # the rejected tail's keys and values go
                self._cache.crop(-surplus)  # transformers 5: a negative count removes tokens
                del self._fed[-surplus:]
            if reason is not None:
                return reason
            if draft and self._governor is not None:
                self._governor.scored(kept)
            self._score_shadow(out.tokens)
            draft = [] if out.healing else self._draft(out.tokens)
            rows = self._feed([out.tokens[-1], *draft])

    def _verify(
        self, rows: torch.Tensor, draft: list[int], out: Output, deadline: Deadline
    ) -> tuple[int, FinishReason | None]:
        """Emit the model's tokens from ``rows`` while they agree with ``draft``.

        Returns how many drafted tokens were confirmed (their cache entries stay valid) and
        the reason to end, if any. Each emitted token passes the same checks as without a
        draft, so nothing is emitted past a stop, the length cap, a cancel or the deadline.
        """
        for i in range(len(rows)):
            if reason := deadline.reason():
                return i, reason
            # The model's own token, drawn as without a draft; a draft only saves forwards.
            # Sampling stays exact and seeded draws stay the same: a one-token draft
            # distribution makes speculative sampling's accept-or-resample the same as
            # drawing from p and comparing (p(draft) to accept, p without it otherwise).
            row = out.constrain(rows[i : i + 1])
            token = int(self._picker.pick(row, len(out.tokens))[0])
            agreed = i < len(draft) and token == draft[i]
            self.accepted += agreed
            if out.take(token):
                return i + agreed, out.reason
            if not agreed:
                return i, None
        raise AssertionError("the last row has no draft token, so it always disagrees")

    def _draft(self, generated: list[int]) -> list[int]:
        """The draft to check with the next forward: empty when none is found or worth it."""
        if self._drafter is None:
            return []
        self._drafter.sync(generated, self._prompt_len)
        # Row k of a k-token draft yields one more token: never ask past max_new_tokens.
        draft = self._drafter.draft(self._max_new - len(generated) - 1)
        if draft and self._governor is not None and not self._governor.worth(len(draft)):
            if self._shadow is None:  # scored once the model has written that far
                self._shadow = (len(generated), draft)
            return []
        self.drafted += len(draft)
        return draft

    def _score_shadow(self, generated: list[int]) -> None:
        if self._shadow is None or self._governor is None:
            return
        start, draft = self._shadow
        written = generated[start : start + len(draft)]
        agreed = next((i for i, t in enumerate(written) if t != draft[i]), len(written))
        if agreed < len(written) or len(written) == len(draft):  # the outcome is known
            self._governor.scored(agreed)
            self._shadow = None

    def _feed(self, tokens: list[int]) -> torch.Tensor:
        """Run ``tokens`` after ``fed``; their logits: [len(tokens), vocab]."""
        import torch

        rt, start = self._rt, len(self._fed)
        step = torch.tensor([tokens], device=rt.device)  # [1, T]
        positions = torch.arange(start, start + len(tokens), device=rt.device)[None]  # [1, T]
        self._fed.extend(tokens)
        began = time.perf_counter()
        if len(tokens) == 1:  # the plain decode step
            rows = rt.forward(step, positions, self._cache, None)  # [1, vocab]
        else:
            assert rt.forward_tail is not None
            rows = rt.forward_tail(step, positions, self._cache, len(tokens))[0]  # [T, vocab]
        if self._governor is not None:
            float(rows[-1, 0])  # waits for an asynchronous device, so the time is the forward's
            self._governor.timed(len(tokens), time.perf_counter() - began)
        return rows
