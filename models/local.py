"""``LocalModel``: a transformers causal LM in this process, behind the ``CodeModel`` interface.

One model serves many threads (the language server's completion worker, chat, evaluation):
generations are serialized by a lock; a waiting call still notices its cancel token and time
limit. The KV cache of the last single generation is kept for the next one (prefix reuse).
Single generations decode speculatively by default (``speculation``; ``None`` turns it off):
prompt-lookup drafts, checked where that is measured to pay on this machine.
The forward passes come from an engine: transformers (``models.torch_engine``) or llama.cpp
(``models.llama_engine``), which decodes one row at a time, so batches and candidates run
one after another there.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.candidates import candidate_params, check_candidates, decode_candidates
from models.chat import chat_prompt, chat_prompts
from models.decode import Deadline, Runtime, decode_batch, decode_one
from models.encoding import Codec
from models.errors import UnsupportedError
from models.prefix_cache import PrefixCache
from models.speculation import DraftGovernor, Speculation
from models.tokens import Prompt
from models.torch_engine import TorchEngine
from models.types import (
    CancelToken,
    Generation,
    ModelInfo,
    SamplingParams,
    StopCheck,
    TextCallback,
)

if TYPE_CHECKING:
    from models.llama_engine import LlamaCppEngine

logger = logging.getLogger(__name__)

PromptLike = str | Prompt | Sequence[int]

DEFAULT_SPECULATION = Speculation()


class LocalModel:
    """A loaded model with its tokenizer; build it with ``models.load_model``.

    ``engine`` (a ``TorchEngine`` or a ``LlamaCppEngine``) may serve several ``LocalModel``
    objects, e.g. one without the prefix cache for a benchmark."""

    def __init__(
        self,
        engine: TorchEngine | LlamaCppEngine,
        hf_tokenizer: Any,
        info: ModelInfo,
        *,
        prefix_cache: bool = True,
        prefill_chunk: int = 512,
        speculation: Speculation | None = DEFAULT_SPECULATION,
    ) -> None:
        self.engine: TorchEngine | LlamaCppEngine = engine
        self.codec = Codec(hf_tokenizer, engine.eos_ids)
        self._info = info
        self._lock = threading.Lock()
        self._runtime = Runtime(
            engine.forward,
            engine.new_cache,
            self.codec,
            engine.device,
            prefill_chunk,
            forward_tail=engine.forward_tail,
            stack_caches=engine.stack_caches,
        )
        # Prompt-lookup drafting for ``generate``; read once per call, so it can be reassigned.
        self.speculation = speculation
        self._governor = DraftGovernor()  # measures this machine's costs as generations run
        self._prefix = PrefixCache(engine.new_cache, enabled=prefix_cache)
        self._adapters = engine.adapters
        self._render_template = _template_renderer(hf_tokenizer)

    def __repr__(self) -> str:
        info = self._info
        return f"LocalModel({info.name!r}, device={info.device}, dtype={info.dtype})"

    @property
    def info(self) -> ModelInfo:
        return dataclasses.replace(self._info, adapter=self._adapters.active)

    @property
    def hf_model(self) -> Any:
        """The underlying transformers model (fine-tuning and scoring use it directly)."""
        if not isinstance(self.engine, TorchEngine):
            raise UnsupportedError(
                "this model runs on llama.cpp, which has no transformers model: fine-tuning "
                "and scoring load it with the local (transformers) backend"
            )
        return self.engine.hf_model

    @property
    def tokenizer(self) -> Any:
        return self.codec.hf

    # -- tokens ----------------------------------------------------------------------------

    def split_heal(self, prefix: str) -> tuple[str, str]:
        """The prefix without its last token, and that token's text (token healing)."""
        return self.codec.split_heal(prefix)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` read literally (special-token strings count as plain text)."""
        return self.codec.count(text)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return self.codec.count_batch(texts)

    def encode(self, prompt: PromptLike) -> list[int]:
        return self.codec.encode_prompt(prompt)

    # -- generation ------------------------------------------------------------------------

    def generate(
        self,
        prompt: PromptLike,
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        on_text: TextCallback | None = None,
        stop_check: StopCheck | None = None,
    ) -> Generation:
        """Complete ``prompt``. See ``SamplingParams`` and ``Generation``.

        ``on_text`` receives text pieces as they become final; ``stop_check(text_so_far)``
        ends the completion (finish_reason ``"stop"``) when it returns true. A prompt too
        long for the context window loses its far ends (see ``Codec.fit``).
        """
        started = time.monotonic()
        if cancel is not None and cancel.cancelled:
            return Generation.cancelled_before_start()
        ids = self._fit(prompt, params)
        deadline = Deadline(started, params.time_limit_s, cancel, params.time_box_s)
        if not self._acquire(deadline):
            return Generation("", deadline.reason() or "cancelled", prompt_tokens=len(ids))
        try:
            cache, n_cached = self._prefix.take(ids)
            generation, cached_ids = decode_one(
                self._runtime,
                ids,
                cache,
                n_cached,
                params,
                deadline,
                on_text=on_text,
                stop_check=stop_check,
                speculation=self.speculation,
                governor=self._governor,
            )
            self._prefix.store(cache, cached_ids)
            return generation
        finally:
            self._lock.release()

    def generate_candidates(
        self,
        prompt: PromptLike,
        params: SamplingParams,
        n: int,
        *,
        cancel: CancelToken | None = None,
        stop_check: StopCheck | None = None,
    ) -> list[Generation]:
        """``n`` completions of ``prompt`` from one prefill (``models.candidates``): the
        first drawn with ``params``, the others sampled. ``n == 1`` is ``generate``."""
        check_candidates(n)
        if n == 1:
            return [self.generate(prompt, params, cancel=cancel, stop_check=stop_check)]
        if not self.engine.batched:  # one row at a time; the prompt stays in the prefix cache
            return [
                self.generate(
                    prompt, candidate_params(params, i), cancel=cancel, stop_check=stop_check
                )
                for i in range(n)
            ]
        started = time.monotonic()
        if cancel is not None and cancel.cancelled:
            return [Generation.cancelled_before_start() for _ in range(n)]
        ids = self._fit(prompt, params)
        deadline = Deadline(started, params.time_limit_s, cancel, params.time_box_s)
        if not self._acquire(deadline):
            reason = deadline.reason() or "cancelled"
            return [Generation("", reason, prompt_tokens=len(ids)) for _ in range(n)]
        try:
            cache, n_cached = self._prefix.take(ids)
            generations, cached_ids = decode_candidates(
                self._runtime, ids, cache, n_cached, params, n, deadline, stop_check=stop_check
            )
            self._prefix.store(cache, cached_ids)
            return generations
        finally:
            self._lock.release()

    def generate_batch(
        self,
        prompts: Sequence[PromptLike],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        batch_size: int = 16,
    ) -> list[Generation]:
        """Complete every prompt, ``batch_size`` at a time (similar lengths together).

        Greedy results equal ``generate`` one by one (exactly in float32; in bfloat16 the
        different kernel shapes can round a near-tie the other way). The lock is released
        between batches, so interactive completions are not starved by a long evaluation.
        """
        if not self.engine.batched:
            return [self.generate(p, params, cancel=cancel) for p in prompts]
        started = time.monotonic()
        if cancel is not None and cancel.cancelled:
            return [Generation.cancelled_before_start() for _ in prompts]
        rows = [self._fit(p, params) for p in prompts]
        results: list[Generation | None] = [None] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        deadline = Deadline(started, params.time_limit_s, cancel, params.time_box_s)
        size = max(1, batch_size)
        for first in range(0, len(order), size):
            chunk = order[first : first + size]
            if not self._acquire(deadline):
                reason = deadline.reason() or "cancelled"
                for i in chunk:
                    results[i] = Generation("", reason, prompt_tokens=len(rows[i]))
                continue
            try:
                gens = decode_batch(self._runtime, [rows[i] for i in chunk], params, deadline)
            finally:
                self._lock.release()
            for i, gen in zip(chunk, gens, strict=True):
                results[i] = gen
        return [g for g in results if g is not None]

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        params: SamplingParams,
        *,
        system_prompt: str | None = None,
        cancel: CancelToken | None = None,
        on_text: TextCallback | None = None,
    ) -> Generation:
        """Reply to ``messages`` through the tokenizer's chat template (ChatML for Qwen)."""
        prompt = chat_prompt(messages, system_prompt=system_prompt, render=self._render_template)
        return self.generate(prompt, params, cancel=cancel, on_text=on_text)

    def chat_batch(
        self,
        conversations: Sequence[Sequence[dict[str, str]]],
        params: SamplingParams,
        *,
        system_prompt: str | None = None,
        cancel: CancelToken | None = None,
    ) -> list[Generation]:
        """A reply to each conversation, decoded together as ``generate_batch`` does (greedy
        replies equal ``chat`` one by one)."""
        prompts = chat_prompts(
            conversations, system_prompt=system_prompt, render=self._render_template
        )
        return self.generate_batch(prompts, params, cancel=cancel)

    def clear_prefix_cache(self) -> None:
        with self._lock:
            self._prefix.clear()

    # -- adapters --------------------------------------------------------------------------

    def load_adapter(self, path: str | Path, name: str) -> None:
        """Load a LoRA adapter (peft ``save_pretrained`` folder); it is not activated."""
        with self._lock:
            self._adapters.load(path, name)

    def set_adapter(self, name: str | None) -> None:
        """Serve with adapter ``name``, or the plain base model for ``None``."""
        with self._lock:
            if name != self._adapters.active:
                self._adapters.set(name)
                self._prefix.clear()  # keys and values depend on the weights

    def unload_adapter(self, name: str) -> None:
        with self._lock:
            was_active = self._adapters.active == name
            self._adapters.unload(name)
            if was_active:
                self._prefix.clear()

    @property
    def adapters(self) -> dict[str, Path]:
        return self._adapters.loaded

    def close(self) -> None:
        """Drop the caches and free the engine (llama.cpp's memory; transformers' weights go
        with the last reference to them)."""
        with self._lock:
            self._prefix.clear()
            self.engine.close()

    # -- internals -------------------------------------------------------------------------

    def _fit(self, prompt: PromptLike, params: SamplingParams) -> list[int]:
        limit = self._info.context_window - params.max_new_tokens
        ids, cut = self.codec.fit(prompt, limit)
        if cut:
            logger.info("prompt cut to %d tokens to fit the context window", len(ids))
        return ids

    def _acquire(self, deadline: Deadline) -> bool:
        """Take the generation lock, giving up when the call is cancelled or out of time."""
        while not self._lock.acquire(timeout=0.02):
            if deadline.reason():
                return False
        if deadline.reason():
            self._lock.release()
            return False
        return True


def _template_renderer(hf_tokenizer: Any) -> Any:
    """The tokenizer's chat template as a renderer, or None (plain ChatML) if it has none."""
    if not getattr(hf_tokenizer, "chat_template", None):
        return None

    def render(messages: list[dict[str, str]]) -> str:
        return hf_tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    return render
