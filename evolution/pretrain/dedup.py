"""Exact and near-duplicate detection over source files, first come first kept.

Installed packages carry copies of each other (``pip/_vendor/rich`` and ``rich``, forks such as
``httpx2``) and of themselves (transformers' "Copied from" model files). Exact duplicates are
found by the SHA-256 of the normalised text; near-duplicates by MinHash over the set of
stripped lines, with locality-sensitive hashing in bands so that only candidates are compared.
Files are offered in priority order (held-out files first, so no copy of one is trained on).
"""

from __future__ import annotations

import hashlib
import zlib
from collections import defaultdict

import numpy as np

NUM_HASHES = 32
BANDS = 8  # 8 bands of 4 rows: pairs above ~0.7 Jaccard almost always share a band
NEAR_DUPLICATE_JACCARD = 0.8
MIN_LINES = 8  # below this a MinHash says little; exact hashing still applies

_PRIME = np.uint64(4294967311)  # the first prime above 2**32: (a*x + b) stays below 2**64
_rng = np.random.default_rng(20240917)
_A = _rng.integers(1, 2**32, NUM_HASHES, dtype=np.uint64)
_B = _rng.integers(0, 2**32, NUM_HASHES, dtype=np.uint64)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def minhash(text: str) -> np.ndarray | None:
    """The MinHash signature of the set of stripped non-blank lines (None when too few)."""
    shingles = {line.strip() for line in text.split("\n")}
    shingles.discard("")
    if len(shingles) < MIN_LINES:
        return None
    values = np.fromiter(
        (zlib.crc32(s.encode("utf-8", errors="surrogatepass")) for s in shingles),
        dtype=np.uint64,
        count=len(shingles),
    )
    hashed = (values[:, None] * _A[None, :] + _B[None, :]) % _PRIME  # (lines, NUM_HASHES)
    return hashed.min(axis=0)


class Deduplicator:
    """Offer texts one by one; ``check`` says whether each duplicates one kept before."""

    def __init__(self) -> None:
        self._exact: dict[str, str] = {}
        self._signatures: list[np.ndarray] = []
        self._names: list[str] = []
        self._buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)

    def check(self, name: str, text: str) -> tuple[str, str] | None:
        """``(reason, name of the earlier file)`` for a duplicate; None keeps ``text``."""
        digest = text_sha256(text)
        if digest in self._exact:
            return "duplicate", self._exact[digest]
        signature = minhash(text)
        if signature is not None:
            match = self._near(signature)
            if match is not None:
                return "near-duplicate", match
        self._exact[digest] = name
        if signature is not None:
            self._remember(name, signature)
        return None

    def _bands(self, signature: np.ndarray) -> list[tuple[int, bytes]]:
        rows = NUM_HASHES // BANDS
        return [(b, signature[b * rows : (b + 1) * rows].tobytes()) for b in range(BANDS)]

    def _near(self, signature: np.ndarray) -> str | None:
        seen: set[int] = set()
        for key in self._bands(signature):
            for index in self._buckets.get(key, ()):
                if index in seen:
                    continue
                seen.add(index)
                if np.mean(self._signatures[index] == signature) >= NEAR_DUPLICATE_JACCARD:
                    return self._names[index]
        return None

    def _remember(self, name: str, signature: np.ndarray) -> None:
        index = len(self._signatures)
        self._signatures.append(signature)
        self._names.append(name)
        for key in self._bands(signature):
            self._buckets[key].append(index)
