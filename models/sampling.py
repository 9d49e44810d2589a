"""Choosing the next token from logits: greedy, or temperature with nucleus (top-p) sampling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.types import SamplingParams

if TYPE_CHECKING:
    import torch


class TokenPicker:
    """Picks next tokens for a batch of rows under one ``SamplingParams``."""

    def __init__(self, params: SamplingParams, stop_ids: frozenset[int], device: str) -> None:
        import torch

        self.params = params
        self._stop_ids = torch.tensor(sorted(stop_ids), dtype=torch.long, device=device)
        self._generator: torch.Generator | None = None
        if not params.greedy:
            self._generator = torch.Generator(device=device)
            if params.seed is not None:
                self._generator.manual_seed(params.seed)
            else:
                self._generator.seed()

    def pick(self, logits: torch.Tensor, step: int) -> torch.Tensor:
        """Next token per row. logits: [rows, vocab] float32 → [rows] long."""
        import torch

        if step < self.params.min_new_tokens and self._stop_ids.numel():
            logits = logits.clone()
            logits[:, self._stop_ids] = float("-inf")
        if self.params.greedy:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits / self.params.temperature, dim=-1)  # [rows, vocab]
        if self.params.top_p < 1.0:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            # Drop tokens once the mass before them already reaches top_p (the first always stays).
            drop = sorted_probs.cumsum(dim=-1) - sorted_probs >= self.params.top_p
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
        return torch.multinomial(probs, 1, generator=self._generator).squeeze(-1)
