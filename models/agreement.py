"""Greedy agreement of a quantized model with its full-precision reference.

Quantization must not lose quality silently: each quantized path is measured by how often its
greedy continuation of a prompt is the reference's, token for token. Two figures: the share
of prompts whose continuation is identical, and the share of reference tokens produced before
the first difference (a divergence at token 30 of 32 costs little; at token 1, everything).
Prompts are fill-in-the-middle cuts of source text (``fim_cuts``), as the editor sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models.prefix_cache import common_prefix_length
from models.prompts import fim_prompt
from models.tokens import Prompt


@dataclass(frozen=True)
class Agreement:
    prompts: int
    identical: float  # share of prompts with the same greedy continuation
    tokens: float  # share of reference tokens matched before the first difference

    def describe(self) -> str:
        return (
            f"{self.identical:.0%} of {self.prompts} continuations identical, "
            f"{self.tokens:.0%} of tokens before the first difference"
        )


def greedy_agreement(
    reference: Sequence[Sequence[int]], candidate: Sequence[Sequence[int]]
) -> Agreement:
    """Compare greedy continuations of the same prompts, one pair per prompt."""
    if len(reference) != len(candidate) or not reference:
        raise ValueError("need the same number (at least one) of continuations from each model")
    same = sum(tuple(r) == tuple(c) for r, c in zip(reference, candidate, strict=True))
    shares = [
        common_prefix_length(list(r), list(c)) / len(r) if r else float(not c)
        for r, c in zip(reference, candidate, strict=True)
    ]
    return Agreement(len(reference), same / len(reference), sum(shares) / len(shares))


def fim_cuts(
    texts: Sequence[str],
    count: int,
    *,
    count_tokens: Callable[[str], int],
    prefix_tokens: int,
    suffix_tokens: int,
) -> list[Prompt]:
    """``count`` FIM prompts, cut mid-line in the middle of each text in turn: about
    ``prefix_tokens`` before the cursor and ``suffix_tokens`` after it, whole lines at the far
    ends. Deterministic, so every model is asked the same."""
    prompts: list[Prompt] = []
    for text in texts:
        lines = text.splitlines(keepends=True)
        if len(lines) < 8:
            continue
        middle = len(lines) // 2
        line = lines[middle]
        cut = len(line) - len(line.lstrip()) + max(1, len(line.strip()) // 2)
        prefix = _take_lines(lines[:middle], prefix_tokens, count_tokens, from_end=True)
        suffix = _take_lines(lines[middle + 1 :], suffix_tokens, count_tokens, from_end=False)
        prompts.append(fim_prompt(prefix + line[:cut], line[cut:] + suffix))
        if len(prompts) == count:
            break
    return prompts


def _take_lines(
    lines: list[str], budget: int, count_tokens: Callable[[str], int], *, from_end: bool
) -> str:
    taken: list[str] = []
    used = 0
    for line in reversed(lines) if from_end else lines:
        used += count_tokens(line)
        if used > budget:
            break
        taken.append(line)
    return "".join(reversed(taken) if from_end else taken)
