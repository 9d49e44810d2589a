"""Token budgets for prompts: keeping whole lines nearest the cursor within a token count.

Runs on every keystroke, so it never tokenizes a whole large file: it takes a character
window a few times the token budget from the cursor outwards, counts tokens line by line in
one batch call, and keeps whole lines from the cursor outwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from models.errors import InvalidRequestError
from models.tokens import Prompt

# Characters per token to take before counting: code averages 3-4; the window doubles when a
# text is denser than this.
_CHARS_PER_TOKEN = 6

CountMany = Callable[[Sequence[str]], list[int]]


def prompt_tokens(prompt: Prompt, count_many: CountMany) -> int:
    """Tokens of ``prompt``: one per special token plus each run of text."""
    runs = list(prompt.runs())
    texts = [text for kind, text in runs if kind != "special"]
    return (len(runs) - len(texts)) + sum(count_many(texts))


@dataclass(frozen=True)
class Kept:
    """What was kept of a text, its token count, and whether that is all of it."""

    text: str
    tokens: int
    whole: bool


def keep_tail(text: str, budget: int, count_many: CountMany) -> Kept:
    """The longest run of whole last lines of ``text`` within ``budget`` tokens."""
    if not text:
        return Kept("", 0, True)
    if budget <= 0:
        return Kept("", 0, False)
    window = budget * _CHARS_PER_TOKEN
    while True:
        start = max(0, len(text) - window)
        lines = _split_lines(text[start:])
        cut = start > 0  # then the window's first line may be missing its start
        complete = lines[1:] if cut else lines
        counts = count_many(complete)
        keep, used = _fit_from_end(counts, budget)
        if cut and complete and keep == len(complete):
            window *= 2  # denser text than expected: earlier lines may fit too
            continue
        if keep == 0:  # the line at the cursor alone is over budget: cut it by characters
            piece = _char_tail(lines[-1], budget, count_many)
            return Kept(piece, count_many([piece])[0], False)
        return Kept("".join(complete[-keep:]), used, keep == len(complete) and not cut)


def keep_head(text: str, budget: int, count_many: CountMany) -> Kept:
    """The longest run of whole first lines of ``text`` within ``budget`` tokens."""
    if not text:
        return Kept("", 0, True)
    if budget <= 0:
        return Kept("", 0, False)
    window = budget * _CHARS_PER_TOKEN
    while True:
        end = min(len(text), window)
        lines = _split_lines(text[:end])
        cut = end < len(text) and not text[:end].endswith("\n")
        complete = lines[:-1] if cut else lines
        counts = count_many(complete)
        keep, used = _fit_from_end(counts[::-1], budget)
        if end < len(text) and complete and keep == len(complete):
            window *= 2
            continue
        if keep == 0:
            piece = _char_head(lines[0], budget, count_many)
            return Kept(piece, count_many([piece])[0], False)
        return Kept("".join(complete[:keep]), used, keep == len(complete) and end == len(text))


def _fit_from_end(counts: Sequence[int], budget: int) -> tuple[int, int]:
    """How many trailing items fit in ``budget``, and their total."""
    used = 0
    for kept, n in enumerate(reversed(counts)):
        if used + n > budget:
            return kept, used
        used += n
    return len(counts), used


def _char_tail(line: str, budget: int, count_many: CountMany) -> str:
    lo, hi = 0, len(line)  # the most trailing characters within budget, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_many([line[len(line) - mid :]])[0] <= budget:
            lo = mid
        else:
            hi = mid - 1
    return line[len(line) - lo :]


def _char_head(line: str, budget: int, count_many: CountMany) -> str:
    lo, hi = 0, len(line)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_many([line[:mid]])[0] <= budget:
            lo = mid
        else:
            hi = mid - 1
    return line[:lo]


def _split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` (only ``\\n`` ends a line, as in editors)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def counter_of(counter: object) -> CountMany:
    """A batch counter from a model (``count_tokens_batch`` / ``count_tokens``) or a function."""
    batch = getattr(counter, "count_tokens_batch", None)
    if callable(batch):
        return batch  # type: ignore[return-value]
    single = cast(Callable[[str], int], getattr(counter, "count_tokens", counter))
    if not callable(single):
        raise InvalidRequestError(
            "build_infill_prompt needs a model with count_tokens or a function text -> tokens"
        )

    def count_each(texts: Sequence[str]) -> list[int]:
        return [single(t) for t in texts]

    return count_each
