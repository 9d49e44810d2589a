"""Reuse of the last request's KV cache for the next one (prefix caching).

Consecutive inline-completion prompts share almost everything: the user typed a character,
so only the tokens from that point on change. The cache of the last request is kept together
with the ids it holds; the next request keeps the longest common token prefix, crops the rest
and prefills only its own new tail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix, by bisection on slice equality (C-speed compares)."""
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while lo < hi:  # invariant: a[:lo] == b[:lo] and a[:hi] != b[:hi]
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class PrefixCache:
    """Holds one KV cache and the token ids whose keys and values it contains."""

    def __init__(self, new_cache: Callable[[], Any], *, enabled: bool = True) -> None:
        self._new_cache = new_cache
        self.enabled = enabled
        self._cache: Any = None
        self._ids: list[int] = []

    def take(self, ids: Sequence[int]) -> tuple[Any, int]:
        """A cache for ``ids`` and how many of their leading tokens it already holds.

        At least the last token is always left to prefill: its logits start the generation.
        The kept cache is handed over; ``store`` must return it (or it is dropped, which is
        right after an error left it in an unknown state).
        """
        cache, held = self._cache, self._ids
        self._cache, self._ids = None, []
        if not self.enabled or cache is None:
            return self._new_cache(), 0
        reuse = min(common_prefix_length(held, ids), len(ids) - 1)
        if reuse <= 0:
            return self._new_cache(), 0
        surplus = cache.get_seq_length() - reuse
        if surplus > 0:
            cache.crop(-surplus)  # transformers 5: a negative count of tokens to remove
        return cache, reuse

    def store(self, cache: Any, ids: Sequence[int]) -> None:
        """Keep ``cache``, which holds exactly the keys and values of ``ids``."""
        if self.enabled:
            self._cache, self._ids = cache, list(ids)

    def clear(self) -> None:
        self._cache, self._ids = None, []

    @property
    def held_tokens(self) -> int:
        return len(self._ids)
