"""From training pairs to tokenized examples: chat turns plus a share of FIM examples.

Each pair gives one chat example; FIM examples are added from the pairs' code until they make
up ``fim_share`` of the examples (``fim_share=1`` trains on FIM only). Every random choice is
seeded by ``(seed, pair key)``, so the same pairs always give the same examples. Examples
longer than ``max_length`` are skipped and counted, never cut mid-code: a truncated answer
teaches the model to stop in the middle of a function.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from evolution.finetune.config import FinetuneConfig
from evolution.finetune.errors import DataError
from evolution.finetune.formatting import Example, ExampleRenderer
from evolution.finetune.records import MIN_HELDOUT, TrainingPair


@dataclass
class DataStats:
    """What went into a run; reported in progress, results and the adapter's report."""

    records: int = 0
    train_records: int = 0
    heldout_records: int = 0
    train_examples: dict[str, int] = field(default_factory=dict)
    heldout_examples: dict[str, int] = field(default_factory=dict)
    skipped_too_long: dict[str, int] = field(default_factory=dict)
    longest_tokens: int = 0
    train_tokens: int = 0
    train_target_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PreparedData:
    """Tokenized train and held-out examples with their statistics."""

    train: list[Example]
    heldout: list[Example]
    stats: DataStats


def prepare_data(
    train_pairs: Sequence[TrainingPair],
    heldout_pairs: Sequence[TrainingPair],
    tokenizer: Any,
    config: FinetuneConfig,
    *,
    source: str = "the training data",
) -> PreparedData:
    """Tokenize both splits and check there is enough left to train and to judge."""
    n_pairs = len(train_pairs) + len(heldout_pairs)
    check_enough_records(n_pairs, config, source)
    renderer = ExampleRenderer(tokenizer, config.system_prompt)
    stats = DataStats(
        records=n_pairs, train_records=len(train_pairs), heldout_records=len(heldout_pairs)
    )
    train = _examples(train_pairs, renderer, config)
    heldout = _examples(heldout_pairs, renderer, config)
    return assemble_data(train, heldout, stats, config)


def assemble_data(
    train: Sequence[Example], heldout: Sequence[Example], stats: DataStats, config: FinetuneConfig
) -> PreparedData:
    """Drop (and count) the rendered examples longer than ``max_length``, fill in ``stats``
    and check there is enough left to train and to judge."""
    skipped: Counter[str] = Counter()
    train = _fitting(train, config, skipped, stats)
    heldout = _fitting(heldout, config, skipped, stats)
    stats.skipped_too_long = dict(skipped)
    stats.train_examples = dict(Counter(e.kind for e in train))
    stats.heldout_examples = dict(Counter(e.kind for e in heldout))
    stats.train_tokens = sum(len(e) for e in train)
    stats.train_target_tokens = sum(e.target_tokens for e in train)
    if not train:
        raise DataError(
            f"every training example is longer than max_length={config.max_length} tokens "
            f"(the longest has {stats.longest_tokens}): raise --max-length"
        )
    if len(heldout) < MIN_HELDOUT:
        raise DataError(
            f"only {len(heldout)} held-out examples fit in max_length={config.max_length}; the "
            f"promotion gate needs {MIN_HELDOUT}: raise --max-length or --eval-share"
        )
    return PreparedData(train=train, heldout=heldout, stats=stats)


def check_enough_records(count: int, config: FinetuneConfig, source: str) -> None:
    """Refuse an empty or tiny store before anything is written or loaded."""
    if count == 0:
        raise DataError(
            f"no usable training records in {source} (records flagged by decontamination are "
            "left out): accept some self-evolutions first"
        )
    if count < config.min_records:
        raise DataError(
            f"only {count} usable training records in {source}; fine-tuning needs at least "
            f"min_records={config.min_records}: collect more pairs or lower --min-records"
        )


def _examples(
    pairs: Sequence[TrainingPair], renderer: ExampleRenderer, config: FinetuneConfig
) -> list[Example]:
    rendered: list[Example] = []
    if config.fim_share < 1.0:
        rendered += [renderer.chat(p) for p in pairs]
    for pair, variant in fim_sources(pairs, config.fim_share, config.seed):
        rng = random.Random(f"{config.seed}:{pair.key}:{variant}")
        example = renderer.fim(pair, rng)
        if example is not None:
            rendered.append(example)
    return rendered


def _fitting(
    rendered: Sequence[Example],
    config: FinetuneConfig,
    skipped: Counter[str],
    stats: DataStats,
) -> list[Example]:
    kept = []
    for example in rendered:
        stats.longest_tokens = max(stats.longest_tokens, len(example))
        if len(example) > config.max_length:
            skipped[example.kind] += 1
        else:
            kept.append(example)
    return kept


def fim_sources(
    pairs: Sequence[TrainingPair], share: float, seed: int
) -> list[tuple[TrainingPair, int]]:
    """Which pairs give FIM examples, and the variant number of each (distinct spans).

    With ``n`` chat examples, ``n * share / (1 - share)`` FIM examples make them ``share`` of
    the total; pairs take turns in a seeded order, so a share above one half gives some pairs
    several spans.
    """
    if share <= 0.0 or not pairs:
        return []
    if share >= 1.0:
        return [(p, 0) for p in pairs]
    count = round(len(pairs) * share / (1.0 - share))
    order = sorted(pairs, key=lambda p: random.Random(f"{seed}:{p.key}").random())
    return [(order[i % len(order)], i // len(order)) for i in range(count)]
