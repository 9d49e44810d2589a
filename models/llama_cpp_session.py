"""Greedy generation from token ids on llama.cpp (llama-cpp-python), with prefix reuse.

The prompt arrives as token ids from our own tokenizer (``models.encoding.Codec``), so llama.cpp
sees exactly the ids our runtime sees; the GGUF vocabulary is the same (``models.gguf_export``).
Each request keeps the keys and values of the longest common token prefix with the previous
one and evaluates only the rest, as llama.cpp's server does with ``cache_prompt`` and
llama-cpp-python's ``Llama.generate`` does with its prefix match.

Needs the optional ``llama`` extra (``models.gguf_export.require_llama_extra``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.gguf_export import require_llama_extra
from models.prefix_cache import common_prefix_length


@dataclass(frozen=True)
class SessionResult:
    token_ids: tuple[int, ...]
    prompt_tokens: int
    cached_tokens: int
    prefill_ms: float  # evaluating the uncached prompt tokens, up to the first token's logits
    decode_ms: float  # the new tokens after the first


class LlamaCppSession:
    """One llama.cpp context on one GGUF file, one sequence, greedy decoding."""

    def __init__(
        self,
        gguf_path: str | Path,
        *,
        context: int = 4096,
        threads: int = 0,
        batch: int = 512,
        flash_attention: bool = True,
    ) -> None:
        require_llama_extra()
        import os

        from llama_cpp import Llama  # pyright: ignore[reportMissingImports]  (optional extra)

        threads = threads or os.cpu_count() or 1
        self.path = Path(gguf_path)
        self._llm: Any = Llama(
            model_path=str(self.path),
            n_ctx=context,
            n_batch=batch,
            n_ubatch=batch,
            n_threads=threads,
            n_threads_batch=threads,
            flash_attn=flash_attention,
            logits_all=False,
            verbose=False,
        )
        self.threads = threads
        self.vocab = int(self._llm.n_vocab())

    def generate(
        self,
        ids: Sequence[int],
        max_new_tokens: int,
        *,
        stop_ids: Sequence[int] = (),
        min_new_tokens: int = 0,
    ) -> SessionResult:
        """Greedy tokens after ``ids``; a stop id ends it once ``min_new_tokens`` are out."""
        import numpy as np

        llm = self._llm
        held = llm.input_ids[: llm.n_tokens].tolist()
        # at least the last prompt token is evaluated again: its logits start the generation
        reuse = min(common_prefix_length(held, ids), len(ids) - 1)
        llm.n_tokens = max(reuse, 0)  # eval() drops the keys and values past n_tokens
        started = time.perf_counter()
        llm.eval(list(ids[reuse:]))
        logits = self._last_logits(np)
        prefill_ms = (time.perf_counter() - started) * 1000
        out: list[int] = []
        stops = list(stop_ids)
        started = time.perf_counter()
        while True:
            if len(out) < min_new_tokens and stops:
                logits[stops] = -np.inf
            token = int(logits.argmax())
            if token in stops:
                break
            out.append(token)
            if len(out) >= max_new_tokens:
                break
            llm.eval([token])
            logits = self._last_logits(np)
        decode_ms = (time.perf_counter() - started) * 1000
        return SessionResult(tuple(out), len(ids), max(reuse, 0), prefill_ms, decode_ms)

    def tokenize(self, text: str) -> list[int]:
        """llama.cpp's own tokens of ``text`` read literally (to check the exported vocabulary)."""
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _last_logits(self, np: Any) -> Any:
        import llama_cpp  # pyright: ignore[reportMissingImports]  (the optional llama extra)

        pointer = llama_cpp.llama_get_logits_ith(self._llm.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.vocab,)).copy()

    def close(self) -> None:
        self._llm.close()
