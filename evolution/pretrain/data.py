"""Data preparation, once per data configuration: corpus → tokenizer → token files.

Everything lands in the work folder; ``data.json``, written last, says it is complete and for
which settings, so a rerun (a resumed run, or a run on another machine that was handed the
folder) skips straight to training. ``--data-only`` stops here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolution.pretrain.cleaning import REASONS
from evolution.pretrain.config import PretrainConfig, PretrainError
from evolution.pretrain.corpus import Corpus, Document, build_corpus
from evolution.pretrain.samples import SampleMaker
from evolution.pretrain.tokencache import write_tokens
from evolution.pretrain.tokenizer import load_tokenizer, train_tokenizer

DATA_STATE = "data.json"
TOKENIZER_DIR = "tokenizer"
TRAIN_TOKENS = "train.tokens"
HELDOUT_TOKENS = "heldout.tokens"
MANIFEST = "data_manifest.json"
HELDOUT_LIST = "heldout.json"
SCHEMA = 1
# Raise when a change to cleaning, samples or tokenization should rebuild prepared data.
DATA_VERSION = 1


@dataclass(frozen=True)
class PreparedData:
    work: Path
    summary: dict[str, Any]

    @property
    def tokenizer_dir(self) -> Path:
        return self.work / TOKENIZER_DIR

    @property
    def train_tokens(self) -> Path:
        return self.work / TRAIN_TOKENS

    @property
    def heldout_tokens(self) -> Path:
        return self.work / HELDOUT_TOKENS


def prepare_data(
    config: PretrainConfig, work: Path, say: Callable[[str], None], workers: int = 1
) -> PreparedData:
    """The prepared data for ``config`` in ``work``: reused when complete, else made."""
    state = _read_json(work / DATA_STATE)
    wanted = {**config.data_fields(), "data_version": DATA_VERSION}
    if state and state.get("config") == wanted:
        say(f"data: reusing {work} ({state['summary']['train_tokens']:,} training tokens)")
        return PreparedData(work, state["summary"])
    work.mkdir(parents=True, exist_ok=True)
    (work / DATA_STATE).unlink(missing_ok=True)  # incomplete until rewritten at the end
    say("data: finding, cleaning and deduplicating Python source")
    corpus = build_corpus(config, workers)
    if not corpus.train or not corpus.heldout:
        raise PretrainError(
            f"found {len(corpus.train)} training and {len(corpus.heldout)} held-out files in "
            f"{corpus.roots}: both are needed (see --heldout-package, --heldout-percent)"
        )
    if config.init_from:
        from evolution.pretrain.init_from import check_heldout, copy_tokenizer

        check_heldout(config, [(doc.file.name, doc.sha256) for doc in corpus.heldout])
        say(f"data: the tokenizer of {config.init_from}")
        tokenizer = copy_tokenizer(config, work / TOKENIZER_DIR)
    else:
        say(f"data: training a {config.vocab_size}-token BPE on {len(corpus.train):,} files")
        tokenizer = train_tokenizer(corpus.train, config, work / TOKENIZER_DIR)
    say("data: building and tokenizing the samples")
    from models.encoding import Codec

    codec = Codec(tokenizer)
    counts = {}
    for name, docs, seed in (
        (TRAIN_TOKENS, corpus.train, config.seed),
        (HELDOUT_TOKENS, corpus.heldout, config.seed + 1),
    ):
        maker = SampleMaker(
            config.context, config.fim_rate, config.repo_rate, seed, config.fim_split
        )
        counts[name] = write_tokens(maker.samples(docs), codec, work / name, config.vocab_size)
    summary = {**_summary(corpus, counts), "fingerprint": _fingerprint(work)}
    _write_json(work / MANIFEST, manifest(corpus, config, summary), rows_key="files")
    _write_json(work / HELDOUT_LIST, heldout_list(corpus, config), rows_key="files")
    _write_json(work / DATA_STATE, {"config": wanted, "summary": summary})
    return PreparedData(work, summary)


def _fingerprint(work: Path) -> str:
    """The SHA-256 of the tokenizer and token files: a resumed run checks that its data is
    the data it started on."""
    digest = hashlib.sha256()
    for path in (work / TOKENIZER_DIR / "tokenizer.json", work / TRAIN_TOKENS):
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def tokenizer_of(data: PreparedData) -> Any:
    return load_tokenizer(data.tokenizer_dir)


def _summary(corpus: Corpus, counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    train, heldout = counts[TRAIN_TOKENS], counts[HELDOUT_TOKENS]
    samples = sum(v for k, v in train.items() if k.startswith("samples_"))
    fim = train.get("samples_fim", 0) + train.get("samples_repo-fim", 0)
    repo = train.get("samples_repo-fim", 0) + train.get("samples_repo-l2r", 0)
    return {
        "train_files": len(corpus.train),
        "train_bytes": sum(d.bytes for d in corpus.train),
        "heldout_files": len(corpus.heldout),
        "heldout_bytes": sum(d.bytes for d in corpus.heldout),
        "excluded_files": sum(corpus.excluded_files.values()),
        "excluded_bytes": sum(corpus.excluded_bytes.values()),
        "train_tokens": train["tokens"],
        "heldout_tokens": heldout["tokens"],
        "samples": samples,
        "fim_share": round(fim / max(samples, 1), 4),
        "repo_share": round(repo / max(samples, 1), 4),
        "train_counts": train,
        "heldout_counts": heldout,
    }


def manifest(corpus: Corpus, config: PretrainConfig, summary: dict[str, Any]) -> dict[str, Any]:
    """What the model was trained on: every file with its hash, and why the rest was not."""
    packages: Counter = Counter()
    package_bytes: Counter = Counter()
    for doc in corpus.train:
        packages[f"{doc.file.source}:{doc.file.repo}"] += 1
        package_bytes[f"{doc.file.source}:{doc.file.repo}"] += doc.bytes
    excluded = {
        reason: {
            "files": corpus.excluded_files[reason],
            "bytes": corpus.excluded_bytes[reason],
            "why": REASONS.get(reason, reason),
        }
        for reason in sorted(corpus.excluded_files)
    }
    return {
        "schema": SCHEMA,
        "sources": corpus.roots,
        "settings": config.data_fields(),
        "summary": {k: v for k, v in summary.items() if not k.endswith("_counts")},
        "excluded": excluded,
        "packages": {k: [packages[k], package_bytes[k]] for k in sorted(packages)},
        "files_columns": ["file", "sha256", "bytes"],
        "files": [_row(doc) for doc in corpus.train],
    }


def heldout_list(corpus: Corpus, config: PretrainConfig) -> dict[str, Any]:
    """The files never trained on, for evaluation: chosen by path, listed after cleaning."""
    return {
        "schema": SCHEMA,
        "rule": (
            f"standard-library files whose path's SHA-256 (first 8 bytes, big-endian) mod "
            f"10000 is below {config.heldout_percent * 100:g}, and every file of the "
            f"installed package {config.heldout_package!r}; near-copies of them are not "
            "trained on either"
        ),
        "sources": corpus.roots,
        "files_columns": ["file", "sha256", "bytes"],
        "files": [_row(doc) for doc in corpus.heldout],
    }


def _row(doc: Document) -> list[Any]:
    return [doc.file.name, doc.sha256, doc.bytes]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_json(path: Path, value: dict[str, Any], rows_key: str | None = None) -> None:
    """Write atomically; the ``rows_key`` list one row a line (readable diffs, small file)."""
    rows = value.pop(rows_key, None) if rows_key else None
    text = json.dumps(value, indent=1, ensure_ascii=False)
    if rows is not None:
        body = ",\n".join("  " + json.dumps(row, ensure_ascii=False) for row in rows)
        text = text[:-2] + f',\n "{rows_key}": [\n{body}\n ]\n}}'
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(text + "\n", encoding="utf-8")
    os.replace(staging, path)
