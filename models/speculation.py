"""Prompt-lookup (n-gram) drafting for speculative decoding.

Code repeats itself: identifiers, call patterns, a line being re-typed or a block being edited
whose old version is still in the prompt. The drafter proposes the tokens that followed the
most recent earlier occurrence of the last n tokens (longest n first, as HF's
``prompt_lookup_num_tokens`` and vLLM's n-gram speculator do); ``models.decode`` checks the
whole draft in one forward pass and keeps the run the model agrees with (the loop is
``models.decode_steps``). ``DraftGovernor`` decides whether checking a draft pays here.

The search runs on the token ids packed as 4-byte words in a ``bytearray``: ``rfind`` scans
at C speed from the end, so the usual match (a few lines back) costs microseconds even in a
32k-token prompt, and nothing is indexed per request.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.errors import InvalidRequestError

_WORD = array("i").itemsize  # bytes per packed token id (vocabularies stay far below 2**31)


@dataclass(frozen=True)
class Speculation:
    """How to draft: up to ``max_draft`` tokens after a match of ``max_ngram`` down to
    ``min_ngram`` trailing tokens. ``adaptive`` checks a draft only where that is measured to
    pay (``DraftGovernor``); without it every draft found is checked."""

    # Chosen by bench/speculation.py on edits of held-out code, 2-core CPU, 0.5B shape: drafts
    # after a 3-token match only beat 2- and 1-token ones there (fewer wrong drafts), and 8
    # tokens did about as well as 16 (a GPU would favour 2-token matches: forwards are cheaper).
    max_draft: int = 8
    max_ngram: int = 3
    min_ngram: int = 3
    adaptive: bool = True

    def __post_init__(self) -> None:
        if self.max_draft < 1:
            raise InvalidRequestError(f"max_draft must be at least 1, got {self.max_draft}")
        if not 1 <= self.min_ngram <= self.max_ngram:
            raise InvalidRequestError(
                f"n-gram sizes must satisfy 1 <= min_ngram <= max_ngram, "
                f"got {self.min_ngram} and {self.max_ngram}"
            )


class NgramDrafter:
    """Drafts continuations of a growing token sequence from its own earlier text."""

    def __init__(self, tokens: Sequence[int], spec: Speculation) -> None:
        self._spec = spec
        self._tokens: list[int] = []
        self._packed = bytearray()
        self.extend(tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def extend(self, tokens: Iterable[int]) -> None:
        tokens = list(tokens)
        self._tokens.extend(tokens)
        self._packed += array("i", tokens).tobytes()

    def sync(self, generated: Sequence[int], start: int) -> None:
        """Append what ``generated`` (which follows the first ``start`` tokens) added since."""
        self.extend(generated[len(self._tokens) - start :])

    def draft(self, limit: int) -> list[int]:
        """Up to ``limit`` tokens expected next; empty when nothing earlier matches."""
        size = len(self._tokens)
        if limit <= 0 or size < 2:
            return []
        for n in range(min(self._spec.max_ngram, size - 1), self._spec.min_ngram - 1, -1):
            start = self._find_last(size - n, n)
            if start >= 0:
                return self._copy(start + n, min(limit, self._spec.max_draft))
        return []

    def _find_last(self, at: int, n: int) -> int:
        """Start of the last occurrence of tokens[at:at+n] that ends before the last token."""
        pattern = bytes(self._packed[at * _WORD : (at + n) * _WORD])
        end = (len(self._tokens) - 1) * _WORD  # a match must leave a token to continue with
        while (hit := self._packed.rfind(pattern, 0, end)) >= 0:
            if hit % _WORD == 0:
                return hit // _WORD
            end = hit + len(pattern) - 1  # a straddling hit: look before it
        return -1

    def _copy(self, source: int, count: int) -> list[int]:
        """``count`` tokens from ``source`` on; past the end the copy repeats itself, as in
        LZ77, so a run (indentation, ``====``) is drafted at full length."""
        size = len(self._tokens)
        out: list[int] = []
        for i in range(count):
            j = source + i
            out.append(self._tokens[j] if j < size else out[j - size])
        return out


class DraftGovernor:
    """Whether checking a draft pays on this machine, learned while the model runs.

    A k-token draft is checked by one forward of k+1 tokens instead of one token; it pays when
    the accepted run plus the model's own token outweigh that forward's cost. On a GPU a forward
    of 9 tokens costs about what one does; on a 2-core CPU in float32 it measured about 3x
    (``bench/speculation.py``), so only long accepted runs pay there. Both sides are measured:
    seconds per forward by tokens fed, and how many tokens drafts agree with what the model
    then writes, for unchecked drafts too (scored against the tokens decoded plainly), so
    checking resumes once the text turns repetitive. One per model: it outlives requests.
    """

    def __init__(self, smoothing: float = 0.3) -> None:
        self._smoothing = smoothing
        self._seconds: dict[int, float] = {}  # tokens fed -> seconds per forward (smoothed)
        self._agreed: float | None = None  # tokens a draft agrees with (smoothed)

    def worth(self, draft_len: int) -> bool:
        one, many = self._seconds.get(1), self._seconds.get(draft_len + 1)
        if one is None or many is None or self._agreed is None:
            return True  # not measured yet: check it, and learn
        return (min(self._agreed, draft_len) + 1) * one >= many

    def timed(self, fed: int, seconds: float) -> None:
        self._seconds[fed] = self._smooth(self._seconds.get(fed), seconds)

    def scored(self, agreed: int) -> None:
        self._agreed = self._smooth(self._agreed, agreed)

    def _smooth(self, old: float | None, new: float) -> float:
        return new if old is None else old + self._smoothing * (new - old)
