"""``RemoteModel``: the ``CodeModel`` interface over an OpenAI-compatible ``/v1/completions``.

Works with vLLM, llama.cpp's server and Ollama: prompts (FIM, repo-level, ChatML) are sent as
text in ``prompt``, answers are streamed, and stop strings, ``stop_check``, cancellation and
the time limit are applied here as well, whatever the server supports.

Token counts use the model's tokenizer when a local copy of the model (or just its tokenizer
files) can be found from the model reference; otherwise they are an approximation, one token
per 3 bytes of UTF-8 (code averages nearer 4, so budgets err on the short side), and
``info.token_count`` says ``"approximate"``.

A text prompt has no literal channel: the server would read ``<|fim_prefix|>`` quoted in a
user's file as the control token. In user-text segments each special-token string therefore
gets a zero-width space after its ``<`` before it is sent. LoRA adapters are the server's
business (vLLM ``--lora-modules``: name one as the model).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from models.candidates import candidate_params, check_candidates
from models.chat import TemplateRenderer, chat_prompt, chat_prompts
from models.decode import Deadline
from models.encoding import Codec, scrub
from models.errors import InvalidRequestError, ModelError, UnsupportedError
from models.loading import detect_kind
from models.prompts import trim_prompt
from models.remote_http import Abandoned, stream_completion, translate_error
from models.textstream import StopStrings
from models.tokens import QWEN_SPECIAL_TOKENS, Prompt
from models.types import (
    CancelToken,
    FinishReason,
    Generation,
    ModelInfo,
    SamplingParams,
    StopCheck,
    TextCallback,
)

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 32768
_BYTES_PER_TOKEN = 3
_CONNECT_TIMEOUT_S = 5.0
_READ_TIMEOUT_S = 120.0
_ZERO_WIDTH_SPACE = "\u200b"


def normalize_base_url(url: str | None) -> str:
    """``http://host:port/v1`` from what a user typed (``/v1`` is added to a bare host)."""
    if not url or not url.strip():
        raise InvalidRequestError(
            "the remote backend needs a base URL such as http://127.0.0.1:8000/v1"
        )
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequestError(
            f"the remote base URL must start with http:// or https://, got {url!r}"
        )
    return url if parts.path else url + "/v1"


class RemoteModel:
    """A model served by an OpenAI-compatible server; build it with ``models.load_model``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        codec: Codec | None = None,
        tokenizer_path: Path | None = None,
        context_window: int = DEFAULT_CONTEXT_WINDOW,
        client: httpx.Client | None = None,
    ) -> None:
        import httpx

        self.base_url = normalize_base_url(base_url)
        self.model = model
        self._codec = codec
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(_READ_TIMEOUT_S, connect=_CONNECT_TIMEOUT_S),
        )
        self._info = ModelInfo(
            name=model,
            path=tokenizer_path,
            kind=detect_kind(model, None, {}),
            device="remote",
            dtype="unknown",
            quantization="none",
            context_window=context_window,
            adapter=None,
            random_weights=False,
            backend="remote",
            token_count="exact" if codec is not None else "approximate",
        )

    def __repr__(self) -> str:  # never shows the API key
        return f"RemoteModel({self.model!r}, base_url={self.base_url!r})"

    @classmethod
    def connect(
        cls,
        ref: str | os.PathLike[str],
        *,
        base_url: str | None,
        model: str | None = None,
        api_key: str | None = None,
        context_window: int | None = None,
        models_dir: str | Path | None = None,
    ) -> RemoteModel:
        """Check that the server answers, and find a local tokenizer for ``ref`` if there is one."""
        codec, tokenizer_path = _local_codec(ref, models_dir)
        remote = cls(
            base_url or "",
            model or str(ref),
            api_key=api_key,
            codec=codec,
            tokenizer_path=tokenizer_path,
            context_window=context_window or DEFAULT_CONTEXT_WINDOW,
        )
        remote.check()
        return remote

    def check(self) -> list[str]:
        """The server's model names (GET /v1/models); RemoteBackendError when it is unreachable."""
        url = f"{self.base_url}/models"
        try:
            response = self._client.get(url, timeout=_CONNECT_TIMEOUT_S)
        except Exception as exc:
            raise translate_error(exc, url) from exc
        if response.status_code >= 400:
            raise translate_error(
                RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}"), url
            )
        try:
            names = [m["id"] for m in response.json().get("data", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            names = []
        if names and self.model not in names:
            logger.warning("%s does not list model %r (it serves %s)", url, self.model, names)
        return names

    @property
    def info(self) -> ModelInfo:
        return self._info

    # -- tokens ----------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        if self._codec is not None:
            return self._codec.count(text)
        return -(-len(scrub(text).encode("utf-8")) // _BYTES_PER_TOKEN)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        if self._codec is not None:
            return self._codec.count_batch(texts)
        return [self.count_tokens(t) for t in texts]

    # -- generation ------------------------------------------------------------------------

    def generate(
        self,
        prompt: str | Prompt | Sequence[int],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        on_text: TextCallback | None = None,
        stop_check: StopCheck | None = None,
    ) -> Generation:
        started = time.monotonic()
        if cancel is not None and cancel.cancelled:
            return Generation.cancelled_before_start()
        text = self._prompt_text(prompt, params)
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": text,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.min_new_tokens:
            body["min_tokens"] = params.min_new_tokens  # vLLM's name; others ignore it
        deadline = Deadline(started, params.time_limit_s, cancel, params.time_box_s)
        stops = StopStrings(params.stop)
        reason: FinishReason | None = None
        usage: dict[str, Any] = {}
        first_chunk_at: float | None = None
        t0 = time.perf_counter()
        chunks = stream_completion(self._client, f"{self.base_url}/completions", body, deadline)
        with contextlib.closing(chunks):
            try:
                for chunk in chunks:
                    first_chunk_at = first_chunk_at or time.perf_counter()
                    usage = chunk.get("usage") or usage
                    choice = _first_choice(chunk)
                    if choice is None:
                        continue
                    # The time box is applied here, as in the local loop, whatever the server
                    # supports (llama.cpp's own t_max_predict_ms may end mid-line).
                    piece = stops.end_at_line_end() if deadline.boxed() else ""
                    if not stops.stopped:
                        piece += stops.feed(choice.get("text") or "")
                    if piece and on_text is not None:
                        on_text(piece)
                    if stops.boxed:
                        reason = "time-box"
                        break
                    if stops.stopped or (stop_check is not None and stop_check(stops.text)):
                        reason = "stop"
                        break
                    if choice.get("finish_reason"):
                        reason = _finish_reason(choice, params)
            except Abandoned as exc:
                reason = exc.reason
        tail = stops.finish()
        if tail and on_text is not None:
            on_text(tail)
        end = time.perf_counter()
        first = first_chunk_at or end
        return Generation(
            text=stops.text,
            finish_reason=reason or "eos",
            prompt_tokens=int(usage.get("prompt_tokens") or self._count_prompt(text)),
            cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0),
            new_tokens=int(usage.get("completion_tokens") or self.count_tokens(stops.text)),
            prefill_ms=(first - t0) * 1000.0,
            decode_ms=(end - first) * 1000.0,
        )

    def generate_candidates(
        self,
        prompt: str | Prompt | Sequence[int],
        params: SamplingParams,
        n: int,
        *,
        cancel: CancelToken | None = None,
        stop_check: StopCheck | None = None,
    ) -> list[Generation]:
        """``n`` concurrent requests, the first with ``params``, the others sampled
        (``models.candidates.candidate_params``); a server that caches prompt prefixes
        (vLLM's prefix caching, llama.cpp's ``cache_prompt``) prefills the prompt once."""
        check_candidates(n)
        if n == 1:
            return [self.generate(prompt, params, cancel=cancel, stop_check=stop_check)]

        def one(index: int) -> Generation:
            sampling = candidate_params(params, index)
            return self.generate(prompt, sampling, cancel=cancel, stop_check=stop_check)

        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="remote-candidates") as pool:
            return list(pool.map(one, range(n)))

    def generate_batch(
        self,
        prompts: Sequence[str | Prompt | Sequence[int]],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        batch_size: int = 16,
    ) -> list[Generation]:
        """Concurrent requests (``batch_size`` at a time): the server batches them itself."""
        if not prompts:
            return []
        workers = max(1, min(batch_size, len(prompts)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="remote-batch") as pool:
            return list(pool.map(lambda p: self.generate(p, params, cancel=cancel), prompts))

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        params: SamplingParams,
        *,
        system_prompt: str | None = None,
        cancel: CancelToken | None = None,
        on_text: TextCallback | None = None,
    ) -> Generation:
        """ChatML (the local tokenizer's template if there is one) sent to /v1/completions."""
        prompt = chat_prompt(messages, system_prompt=system_prompt, render=self._template())
        return self.generate(prompt, params, cancel=cancel, on_text=on_text)

    def chat_batch(
        self,
        conversations: Sequence[Sequence[dict[str, str]]],
        params: SamplingParams,
        *,
        system_prompt: str | None = None,
        cancel: CancelToken | None = None,
    ) -> list[Generation]:
        """Each conversation rendered as ``chat`` does, sent concurrently (``generate_batch``)."""
        prompts = chat_prompts(conversations, system_prompt=system_prompt, render=self._template())
        return self.generate_batch(prompts, params, cancel=cancel)

    # -- adapters --------------------------------------------------------------------------

    def load_adapter(self, path: str | Path, name: str) -> None:
        raise UnsupportedError(
            "LoRA adapters are loaded by the remote server itself (vLLM: --lora-modules "
            "NAME=PATH); set the remote model name to the adapter's name instead"
        )

    def set_adapter(self, name: str | None) -> None:
        if name is not None:
            self.load_adapter("", name)

    def unload_adapter(self, name: str) -> None:
        self.load_adapter("", name)

    def close(self) -> None:
        self._client.close()

    # -- internals -------------------------------------------------------------------------

    def _prompt_text(self, prompt: str | Prompt | Sequence[int], params: SamplingParams) -> str:
        if not isinstance(prompt, (str, Prompt)):
            if self._codec is None:
                raise InvalidRequestError(
                    "token-id prompts need the model's tokenizer, which was not found locally"
                )
            prompt = self._codec.decode(list(prompt))
        limit = self._info.context_window - params.max_new_tokens
        if limit < 1:
            raise InvalidRequestError(
                "max_new_tokens leaves no room for the prompt in the context window"
            )
        fitted = trim_prompt(prompt, limit, self)
        if isinstance(fitted, str):
            return scrub(fitted)
        return "".join(
            defuse_special_tokens(s.text) if s.encoding == "literal" else s.text
            for s in fitted.segments
        )

    def _template(self) -> TemplateRenderer | None:
        hf = self._codec.hf if self._codec is not None else None
        if hf is None or not getattr(hf, "chat_template", None):
            return None

        def render(msgs: list[dict[str, str]]) -> str:
            return hf.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)

        return render

    def _count_prompt(self, text: str) -> int:
        if self._codec is not None:
            return len(self._codec.encode_trusted(text))
        return self.count_tokens(text)


def defuse_special_tokens(text: str) -> str:
    """User text with every Qwen special-token string broken by a zero-width space."""
    text = scrub(text)
    if "<|" not in text:
        return text
    for token in QWEN_SPECIAL_TOKENS:
        text = text.replace(token, f"<{_ZERO_WIDTH_SPACE}{token[1:]}")
    return text


def _first_choice(chunk: dict[str, Any]) -> dict[str, Any] | None:
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    return choices[0]


def _finish_reason(choice: dict[str, Any], params: SamplingParams) -> FinishReason:
    reason = choice.get("finish_reason")
    if reason == "length":
        return "length"
    # vLLM says which stop fired: a string for a stop string, a token id or null for EOS.
    if "stop_reason" in choice:
        return "stop" if isinstance(choice["stop_reason"], str) else "eos"
    return "stop" if params.stop else "eos"


def _local_codec(
    ref: str | os.PathLike[str], models_dir: str | Path | None
) -> tuple[Codec | None, Path | None]:
    """The tokenizer of a local copy of ``ref`` (no download), or (None, None)."""
    from models.resolve import resolve_model

    try:
        folder = Path(ref).expanduser()
        path = folder if (folder / "tokenizer.json").is_file() else None
        if path is None:
            path = resolve_model(ref, models_dir, download=False).path
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        return Codec(tokenizer), path
    except (ModelError, OSError, ValueError) as exc:
        logger.info("no local tokenizer for %s (%s): token counts are approximate", ref, exc)
        return None, None
