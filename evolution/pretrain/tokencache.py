"""The token file: every sample tokenized once, concatenated, read back as a memory map.

Training reads windows of ``context + 1`` tokens (inputs and the next-token targets) that
start every ``context`` tokens; each epoch visits all windows in an order drawn from the seed
and the epoch number, so a data position is one integer (windows consumed) and a resumed run
reads exactly what an uninterrupted one would have. Samples run across window boundaries, as
in GPT-style packing: no padding, every token is a target.

uint16 holds any vocabulary up to 65,536 ids: 30M tokens are 60 MB, small enough to carry to
a GPU machine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from evolution.pretrain.samples import Sample
from models.encoding import Codec

ENCODE_BATCH = 512  # samples per parallel encode call


def _batches(samples: Iterable[Sample], size: int) -> Iterator[list[Sample]]:
    batch: list[Sample] = []
    for sample in samples:
        batch.append(sample)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def token_dtype(vocab_size: int) -> type[np.unsignedinteger]:
    return np.uint16 if vocab_size <= 1 << 16 else np.uint32


def write_tokens(
    samples: Iterable[Sample], codec: Codec, path: Path, vocab_size: int
) -> dict[str, int]:
    """Tokenize ``samples`` with the runtime's own encoder into ``path``; return counts."""
    dtype = token_dtype(vocab_size)
    counts: Counter = Counter()
    pieces: list[np.ndarray] = []
    for batch in _batches(samples, ENCODE_BATCH):
        for sample, ids in zip(batch, codec.encode_prompts([s.prompt for s in batch]), strict=True):
            pieces.append(np.asarray(ids, dtype=dtype))
            counts[f"samples_{sample.kind}"] += 1
            counts[f"tokens_{sample.kind}"] += len(ids)
    stream = np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)
    staging = path.with_name(path.name + ".tmp")
    stream.tofile(staging)
    staging.replace(path)
    counts["tokens"] = int(stream.size)
    return dict(counts)


class TokenWindows:
    """Fixed-length windows over a token file, in a per-epoch shuffled order."""

    def __init__(self, path: Path, context: int, vocab_size: int, seed: int) -> None:
        self.tokens = np.memmap(path, dtype=token_dtype(vocab_size), mode="r")
        self.context = context
        self.seed = seed
        self.count = max(0, (self.tokens.size - 1) // context)
        self._order: tuple[int, np.ndarray] | None = None

    def window(self, index: int) -> np.ndarray:
        start = index * self.context
        return np.asarray(self.tokens[start : start + self.context + 1], dtype=np.int64)

    def order(self, epoch: int) -> np.ndarray:
        """The window order of ``epoch`` (the same for the same seed and epoch, always)."""
        if self._order is None or self._order[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._order = (epoch, rng.permutation(self.count))
        return self._order[1]

    def batch(self, position: int, size: int) -> np.ndarray:
        """Windows ``position`` … ``position + size - 1`` of the endless shuffled sequence:
        shape (size, context + 1)."""
        if self.count == 0:
            raise ValueError("the token file is shorter than one window")
        rows = []
        for k in range(position, position + size):
            epoch, offset = divmod(k, self.count)
            rows.append(self.window(int(self.order(epoch)[offset])))
        return np.stack(rows)

    def spread(self, size: int) -> np.ndarray:
        """``size`` windows evenly spaced over the file (held-out evaluation: the same ones
        every time, from every package): shape (size, context + 1)."""
        size = min(size, self.count)
        if size == 0:
            raise ValueError("the token file is shorter than one window")
        indices = np.linspace(0, self.count - 1, size).round().astype(int)
        return np.stack([self.window(int(i)) for i in indices])
