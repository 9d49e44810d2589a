"""Greedy agreement figures and the FIM cuts they are measured on (``models.agreement``)."""

from __future__ import annotations

import pytest

from models.agreement import fim_cuts, greedy_agreement
from models.tokens import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX


def test_identical_share_and_tokens_before_the_first_difference():
    reference = [(1, 2, 3, 4), (5, 6, 7, 8), (9, 9)]
    candidate = [(1, 2, 3, 4), (5, 6, 0, 8), (0, 9)]
    result = greedy_agreement(reference, candidate)
    assert result.prompts == 3
    assert result.identical == pytest.approx(1 / 3)
    assert result.tokens == pytest.approx((1 + 0.5 + 0) / 3)
    assert "33% of 3 continuations identical" in result.describe()
    with pytest.raises(ValueError):
        greedy_agreement(reference, candidate[:2])


def test_fim_cuts_fall_mid_line_within_their_budgets():
    lines = [f"value_{i} = compute({i}, 'x')\n" for i in range(200)]
    texts = ["short\n", "".join(lines), "".join(reversed(lines))]

    def words(text: str) -> int:
        return len(text.split())

    prompts = fim_cuts(texts, 5, count_tokens=words, prefix_tokens=40, suffix_tokens=20)
    assert len(prompts) == 2  # one per text long enough
    text = prompts[0].text
    assert text.startswith(FIM_PREFIX) and text.endswith(FIM_MIDDLE)
    prefix, suffix = text[len(FIM_PREFIX) : -len(FIM_MIDDLE)].split(FIM_SUFFIX)
    assert not prefix.endswith("\n") and not suffix.startswith("\n")  # the cursor is mid-line
    assert prefix.split("\n")[-1] + suffix.split("\n")[0] == lines[100].rstrip("\n")
    # whole lines within the budget, plus the two halves of the line at the cursor
    assert 36 < words(prefix) <= 40 + 4 and 16 < words(suffix) <= 20 + 4
