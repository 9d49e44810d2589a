"""The data types of the model runtime and the ``CodeModel`` interface both backends implement.

Nothing here imports torch: the language server imports these types at start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from models.errors import InvalidRequestError

if TYPE_CHECKING:
    from models.prompts import Prompt

# "time-box": ``time_box_s`` had passed and the text reached a line end (see SamplingParams).
FinishReason = Literal["eos", "stop", "length", "time", "time-box", "cancelled"]
ModelKind = Literal["base", "instruct"]
# Where a model runs: transformers in this process, llama.cpp in this process
# (``models.llama_engine``), or an OpenAI-compatible server. ``auto`` picks one of the first
# two (``models.loading.choose_backend``).
Backend = Literal["local", "llama.cpp", "remote"]
BACKENDS: tuple[str, ...] = ("auto", "local", "llama.cpp", "remote")

# Qwen2.5-Coder models generate well past this, but one request never needs more.
MAX_NEW_TOKENS = 2048


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one completion.

    ``temperature == 0`` is greedy decoding (deterministic). ``stop`` strings end the
    completion and are not part of the returned text. ``time_limit_s`` bounds the whole call;
    the completion ends with ``finish_reason="time"`` and the text generated so far.
    ``time_box_s`` is the soft limit of llama.cpp's ``t_max_predict_ms``: once that much of
    the call has passed, the completion ends at the next line end, with
    ``finish_reason="time-box"``: the text ends with that line break (what followed it in the
    same token is dropped), or, when the text already ended at a line end (maybe followed by
    the next line's indentation) as the box closed, it ends at once as it is. A completion
    with no text yet but blanks ends after its first line that has text. So the last line of
    the text is always blank. ``min_new_tokens`` keeps end-of-text tokens from being chosen
    before that many tokens (benchmarks use it for fixed lengths). ``heal`` is text the
    output must begin with and that is not returned: the prompt's last token, which token
    healing moved into the answer (``models.healing``; ``build_infill_prompt`` sets it).
    """

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    time_limit_s: float | None = None
    seed: int | None = None
    min_new_tokens: int = 0
    time_box_s: float | None = None
    heal: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise InvalidRequestError(
                f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}, got {self.max_new_tokens}"
            )
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise InvalidRequestError(
                f"min_new_tokens must be between 0 and max_new_tokens ({self.max_new_tokens}), "
                f"got {self.min_new_tokens}"
            )
        if not 0.0 <= self.temperature <= 10.0:
            raise InvalidRequestError(f"temperature must be in [0, 10], got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise InvalidRequestError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise InvalidRequestError(f"time_limit_s must be positive, got {self.time_limit_s}")
        if self.time_box_s is not None and self.time_box_s <= 0:
            raise InvalidRequestError(f"time_box_s must be positive, got {self.time_box_s}")
        # A lone string would read as one stop per character; a list would be unhashable.
        stops = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        object.__setattr__(self, "stop", stops)
        if any(not s for s in self.stop):
            raise InvalidRequestError("stop strings must not be empty")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class Generation:
    """One completion and what it cost. ``cached_tokens`` of the prompt came from the KV cache.

    ``draft_tokens`` were proposed by speculative decoding and checked by the model;
    ``accepted_draft_tokens`` of them were confirmed (their ratio is the acceptance rate).
    """

    text: str
    finish_reason: FinishReason
    prompt_tokens: int = 0
    cached_tokens: int = 0
    new_tokens: int = 0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0
    token_ids: tuple[int, ...] = field(default=(), repr=False)
    draft_tokens: int = 0
    accepted_draft_tokens: int = 0

    @classmethod
    def cancelled_before_start(cls) -> Generation:
        return cls(text="", finish_reason="cancelled")


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, for status displays and logs.

    ``random_weights`` is true for the smoke model: its output is junk. ``trained_here`` is
    true for a small model made by ``evoselfcode pretrain`` (the one EvoSelfCode ships): it
    writes plausible Python, nowhere near Qwen2.5-Coder. ``token_count`` is ``"approximate"``
    for a remote model whose tokenizer is not available locally.
    """

    name: str
    path: Path | None
    kind: ModelKind
    device: str
    dtype: str
    quantization: str
    context_window: int
    adapter: str | None
    random_weights: bool
    backend: Backend
    token_count: Literal["exact", "approximate"] = "exact"
    trained_here: bool = False


class CancelToken:
    """A flag another thread sets to stop a generation; checked before every token."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds or until cancelled; true when cancelled."""
        return self._event.wait(timeout)


TextCallback = Callable[[str], None]
StopCheck = Callable[[str], bool]


class CodeModel(Protocol):
    """What the language server, evaluation and fine-tuning use; local and remote alike.

    A ``str`` prompt is trusted text: special-token strings in it become special tokens.
    Prompts built with ``models.prompts`` (``Prompt``) keep user text literal.
    """

    @property
    def info(self) -> ModelInfo: ...

    def count_tokens(self, text: str) -> int: ...

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]: ...

    def generate(
        self,
        prompt: str | Prompt | Sequence[int],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        on_text: TextCallback | None = None,
        stop_check: StopCheck | None = None,
    ) -> Generation: ...

    def generate_candidates(
        self,
        prompt: str | Prompt | Sequence[int],
        params: SamplingParams,
        n: int,
        *,
        cancel: CancelToken | None = None,
        stop_check: StopCheck | None = None,
    ) -> list[Generation]: ...

    def generate_batch(
        self,
        prompts: Sequence[str | Prompt | Sequence[int]],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
    ) -> list[Generation]: ...

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        params: SamplingParams,
        *,
        system_prompt: str | None = None,
        cancel: CancelToken | None = None,
        on_text: TextCallback | None = None,
    ) -> Generation: ...

    def chat_batch(
        self,
        conversations: Sequence[Sequence[dict[str, str]]],
        params: SamplingParams,
        *,
        system_prompt: str | None = None,
        cancel: CancelToken | None = None,
    ) -> list[Generation]: ...

    def load_adapter(self, path: str | Path, name: str) -> None: ...

    def set_adapter(self, name: str | None) -> None: ...

    def unload_adapter(self, name: str) -> None: ...

    def close(self) -> None: ...
