"""Text ↔ token ids for one model: literal user text, trusted prompts, stop ids, window fitting.

Works on the Rust ``tokenizers.Tokenizer`` behind the transformers tokenizer: it is several
times faster per call than the Python wrapper, which matters because the language server
counts tokens on every keystroke. Encoding is thread-safe; the server counts tokens while a
generation runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from models.errors import InvalidRequestError, ModelLoadError
from models.healing import HealIndex, split_heal
from models.tokens import ENDOFTEXT, QWEN_SPECIAL_TOKENS, Prompt

if TYPE_CHECKING:
    from tokenizers import Tokenizer


class Codec:
    """Encoding and decoding for one tokenizer.

    * ``encode_literal`` reads special-token strings as plain characters (user text);
    * ``encode_trusted`` turns them into special tokens (prompt templates written by us);
    * ``encode_prompt`` does each per segment of a ``Prompt``.
    """

    def __init__(self, hf_tokenizer: Any, eos_ids: Sequence[int] = ()) -> None:
        backend = getattr(hf_tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ModelLoadError(
                f"the tokenizer {type(hf_tokenizer).__name__} has no fast (Rust) backend; "
                "EvoSelfCode needs a tokenizer.json (every Qwen2.5-Coder release has one)"
            )
        self.hf = hf_tokenizer
        self._trusted: Tokenizer = backend
        # A copy that never matches special tokens; a flag on the shared one would race.
        self._literal: Tokenizer = _literal_copy(backend)
        vocab = backend.get_vocab(with_added_tokens=True)
        self.special_ids: dict[str, int] = {
            tok: vocab[tok] for tok in QWEN_SPECIAL_TOKENS if tok in vocab
        }
        specials = zip(hf_tokenizer.all_special_tokens, hf_tokenizer.all_special_ids, strict=True)
        for tok, tid in specials:
            self.special_ids.setdefault(tok, tid)
        # Stop on every special token: FIM and repo tokens included, which Qwen's own
        # tokenizer_config does not mark as special (so skip_special_tokens would keep them).
        self.stop_ids: frozenset[int] = frozenset(self.special_ids.values()) | frozenset(eos_ids)
        pad = hf_tokenizer.pad_token_id
        self.pad_id: int = pad if pad is not None else self.special_ids.get(ENDOFTEXT, 0)
        self.doc_start_id: int = self.special_ids.get(ENDOFTEXT, self.pad_id)

    # -- encoding ------------------------------------------------------------------------

    def encode_literal(self, text: str) -> list[int]:
        return self._literal.encode(scrub(text), add_special_tokens=False).ids

    def encode_trusted(self, text: str) -> list[int]:
        return self._trusted.encode(scrub(text), add_special_tokens=False).ids

    def encode_prompt(self, prompt: str | Prompt | Sequence[int]) -> list[int]:
        if isinstance(prompt, str):
            return self.encode_trusted(prompt)
        if isinstance(prompt, Prompt):
            ids: list[int] = []
            for kind, text in prompt.runs():
                if kind == "special":
                    ids.append(self.special_id(text))
                elif kind == "template":
                    ids.extend(self.encode_trusted(text))
                else:
                    ids.extend(self.encode_literal(text))
            return ids
        return [int(i) for i in prompt]

    def encode_prompts(self, prompts: Sequence[Prompt]) -> list[list[int]]:
        """``encode_prompt`` of each prompt, with every literal run of all of them encoded in
        one ``encode_batch`` call (parallel in Rust): pretraining tokenizes millions of runs."""
        runs = [list(p.runs()) for p in prompts]
        literal = [scrub(text) for rs in runs for kind, text in rs if kind == "literal"]
        encoded = iter(self._literal.encode_batch(literal, add_special_tokens=False))
        result: list[list[int]] = []
        for rs in runs:
            ids: list[int] = []
            for kind, text in rs:
                if kind == "literal":
                    ids.extend(next(encoded).ids)
                elif kind == "special":
                    ids.append(self.special_id(text))
                else:
                    ids.extend(self.encode_trusted(text))
            result.append(ids)
        return result

    def count(self, text: str) -> int:
        return len(self._literal.encode(scrub(text), add_special_tokens=False).ids)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encodings = self._literal.encode_batch([scrub(t) for t in texts], add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def decode(self, ids: Sequence[int]) -> str:
        return self._trusted.decode(list(ids), skip_special_tokens=True)

    @functools.cached_property
    def heal_index(self) -> HealIndex:
        """Every token's text, for token healing (built on first use: ~0.2 s per 10k tokens,
        decoded in one parallel call)."""
        size = self._trusted.get_vocab_size(with_added_tokens=True)
        texts = self._trusted.decode_batch([[i] for i in range(size)], skip_special_tokens=False)
        return HealIndex.build(texts, excluded=self.stop_ids)

    def split_heal(self, prefix: str) -> tuple[str, str]:
        """``models.healing.split_heal`` with this tokenizer (prefix text read literally)."""
        return split_heal(prefix, self.encode_literal, lambda i: self.decode([i]))

    def special_id(self, token: str) -> int:
        try:
            return self.special_ids[token]
        except KeyError:
            raise InvalidRequestError(
                f"the prompt uses {token}, which this model's tokenizer does not have; "
                "FIM and repo-level prompts need a Qwen2.5-Coder tokenizer"
            ) from None

    # -- fitting into the context window ---------------------------------------------------

    def fit(self, prompt: str | Prompt | Sequence[int], limit: int) -> tuple[list[int], bool]:
        """Token ids of ``prompt`` cut to at most ``limit``; true when something was cut.

        A FIM ``Prompt`` loses other files first (the last given first), then the far ends
        of prefix and suffix (3:1); the text next to the cursor stays. Other prompts lose
        their start.
        """
        if limit < 1:
            raise InvalidRequestError(
                "max_new_tokens leaves no room for the prompt in the context window"
            )
        ids = self.encode_prompt(prompt)
        if not ids:  # an empty prompt still needs one position to predict from
            ids = [self.doc_start_id]
        if len(ids) <= limit:
            return ids, False
        has_fim_parts = isinstance(prompt, Prompt) and any(
            s.role in ("prefix", "suffix", "context") for s in prompt.segments
        )
        if not has_fim_parts:
            return ids[-limit:], True
        assert isinstance(prompt, Prompt)
        return _fit_fim(prompt, limit, self), True


def _literal_copy(backend: Tokenizer) -> Tokenizer:
    """A copy of ``backend`` that reads every added token's text as plain characters.

    ``encode_special_tokens`` passes over only the added tokens marked special, and
    Qwen2.5-Coder's tokenizer.json does not mark its FIM, repo and tool-call tokens so: a file
    quoting ``<|fim_prefix|>`` would become the control token. The copy marks them special
    (their ids stay the same).
    """
    from tokenizers import AddedToken, Tokenizer

    literal = Tokenizer.from_str(backend.to_str())
    unmarked = [
        AddedToken(
            token.content,
            special=True,
            normalized=token.normalized,
            single_word=token.single_word,
            lstrip=token.lstrip,
            rstrip=token.rstrip,
        )
        for token in literal.get_added_tokens_decoder().values()
        if not token.special
    ]
    if unmarked:
        literal.add_special_tokens(unmarked)
    literal.encode_special_tokens = True
    return literal


_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub(text: str) -> str:
    """``text`` with lone surrogates (not encodable as UTF-8) replaced by U+FFFD, one for one.

    They arrive from JSON escapes or bytes decoded with ``surrogateescape``; the tokenizer
    would reject the whole text. The length stays the same, so offsets stay valid.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _fit_fim(prompt: Prompt, limit: int, codec: Codec) -> list[int]:
    pieces = [codec.encode_prompt(Prompt((s,))) for s in prompt.segments]
    total = sum(len(p) for p in pieces)
    groups = sorted({s.group for s in prompt.segments if s.group is not None}, reverse=True)
    for group in groups:
        if total <= limit:
            break
        for i, seg in enumerate(prompt.segments):
            if seg.group == group:
                total -= len(pieces[i])
                pieces[i] = []
    if total > limit:
        roles = [s.role for s in prompt.segments]
        pre = roles.index("prefix") if "prefix" in roles else None
        suf = roles.index("suffix") if "suffix" in roles else None
        pre_len = len(pieces[pre]) if pre is not None else 0
        suf_len = len(pieces[suf]) if suf is not None else 0
        room = limit - (total - pre_len - suf_len)
        if room < 0:
            raise InvalidRequestError(
                f"the prompt's fixed parts alone need {total - pre_len - suf_len} tokens, "
                f"more than the {limit} the context window leaves"
            )
        keep_pre = min(pre_len, max(room - suf_len, (room * 3) // 4))
        keep_suf = min(suf_len, room - keep_pre)
        if pre is not None:
            pieces[pre] = pieces[pre][pre_len - keep_pre :]
        if suf is not None:
            pieces[suf] = pieces[suf][:keep_suf]
    return [i for piece in pieces for i in piece]
