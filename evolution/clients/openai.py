"""``OpenAIClient``: chat completions and completions against any OpenAI-compatible server.

    config = ClientConfig(base_url="http://127.0.0.1:8000/v1", model="qwen2.5-coder-32b-instruct",
                          name="generator", api_key_env=GENERATOR_API_KEY_ENV)
    async with OpenAIClient(config) as client:
        [choice] = await client.chat([{"role": "user", "content": "..."}], max_tokens=512)
        names = await client.complete("def ", max_tokens=16, n=4, stop=["("], logprobs=1)

Only the parameters given are sent (besides ``model`` and ``n``; ``complete`` always sends
``max_tokens`` because the legacy default of 16 is a trap). ``extra`` adds or overrides body
fields (``{"top_k": 20}``). When a server returns fewer than ``n`` choices the client asks again
for the rest, and when it ignored ``stop`` the client cuts the text itself (both can be turned
off in ``ClientConfig``; each is logged once per client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evolution.clients.choice import Choice, StreamDelta
from evolution.clients.errors import ClientConfigError, MalformedResponse
from evolution.clients.parsing import chat_choices, completion_choices, stream_deltas
from evolution.clients.session import TransportClient

if TYPE_CHECKING:
    pass

CHAT_PATH = "chat/completions"
COMPLETIONS_PATH = "completions"
Messages = Sequence[Mapping[str, Any]]
Parser = Callable[[str, Any], list[Choice]]


def _stops(stop: str | Sequence[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


class OpenAIClient(TransportClient):
    """An async client for one OpenAI-compatible endpoint; use ``async with`` to close it."""

    def __repr__(self) -> str:
        config = self.config
        return f"OpenAIClient({config.name} at {config.base_url}, model={config.model!r})"

    # --- requests ---

    async def chat(
        self,
        messages: Messages | str,
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        n: int = 1,
        stop: str | Sequence[str] | None = None,
        logprobs: bool | int | None = None,
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> list[Choice]:
        """Chat completion. A plain string is sent as one user message. ``logprobs``: True for
        the chosen tokens' logprobs, an int k for the k best candidates at each position too."""
        body = self._chat_body(
            messages, model, max_tokens, temperature, top_p, n, stop, logprobs, seed, extra
        )
        return await self._collect(CHAT_PATH, body, n, chat_choices, _stops(stop), start=0)

    async def complete(
        self,
        prompt: str,
        *,
        model: str | None = None,
        max_tokens: int = 256,
        temperature: float | None = None,
        top_p: float | None = None,
        n: int = 1,
        stop: str | Sequence[str] | None = None,
        logprobs: bool | int | None = None,
        echo: bool = False,
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> list[Choice]:
        """Text completion of ``prompt``. ``logprobs``: k best candidates per token (True: 1);
        ``echo``: the prompt is returned in front of the text (with its logprobs)."""
        body = self._completion_body(
            prompt, model, max_tokens, temperature, top_p, n, stop, logprobs, echo, seed, extra
        )
        start = len(prompt) if echo else 0
        return await self._collect(
            COMPLETIONS_PATH, body, n, completion_choices, _stops(stop), start
        )

    async def stream_chat(
        self,
        messages: Messages | str,
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        n: int = 1,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StreamDelta]:
        """Like ``chat``, yielding the text as it arrives (no client-side stop or n repair)."""
        body = self._chat_body(
            messages, model, max_tokens, temperature, top_p, n, stop, None, seed, extra
        )
        body["stream"] = True
        url = self.config.url(CHAT_PATH)
        async for event in self.transport.stream_events(CHAT_PATH, body):
            for delta in stream_deltas(url, event, chat=True):
                yield delta

    async def stream_complete(
        self,
        prompt: str,
        *,
        model: str | None = None,
        max_tokens: int = 256,
        temperature: float | None = None,
        top_p: float | None = None,
        n: int = 1,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StreamDelta]:
        """Like ``complete``, yielding the text as it arrives."""
        body = self._completion_body(
            prompt, model, max_tokens, temperature, top_p, n, stop, None, False, seed, extra
        )
        body["stream"] = True
        url = self.config.url(COMPLETIONS_PATH)
        async for event in self.transport.stream_events(COMPLETIONS_PATH, body):
            for delta in stream_deltas(url, event, chat=False):
                yield delta

    async def models(self) -> list[str]:
        """The model names the server lists at GET /models."""
        url = self.config.url("models")
        data = await self.transport.request_json("GET", "models")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise MalformedResponse(url, "no 'data' list in the answer")
        return [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]

    # --- bodies ---

    def _common(
        self,
        model: str | None,
        temperature: float | None,
        top_p: float | None,
        n: int,
        stop: str | Sequence[str] | None,
        seed: int | None,
    ) -> dict[str, Any]:
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        model = model or self.config.model
        if not model:
            raise ClientConfigError(
                f"{self.config.name}: no model name; set model in its config or pass model="
            )
        body: dict[str, Any] = {"model": model, "n": n}
        if temperature is not None:
            body["temperature"] = temperature
        if top_p is not None:
            body["top_p"] = top_p
        if _stops(stop):
            body["stop"] = _stops(stop)
        if seed is not None:
            body["seed"] = seed
        return body

    def _chat_body(
        self,
        messages: Messages | str,
        model: str | None,
        max_tokens: int | None,
        temperature: float | None,
        top_p: float | None,
        n: int,
        stop: str | Sequence[str] | None,
        logprobs: bool | int | None,
        seed: int | None,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        body: dict[str, Any] = {"messages": [dict(m) for m in messages]}
        body.update(self._common(model, temperature, top_p, n, stop, seed))
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if logprobs is not None and logprobs is not False:
            body["logprobs"] = True
            if not isinstance(logprobs, bool):
                body["top_logprobs"] = int(logprobs)
        body.update(extra or {})
        return body

    def _completion_body(
        self,
        prompt: str,
        model: str | None,
        max_tokens: int,
        temperature: float | None,
        top_p: float | None,
        n: int,
        stop: str | Sequence[str] | None,
        logprobs: bool | int | None,
        echo: bool,
        seed: int | None,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": prompt}
        body.update(self._common(model, temperature, top_p, n, stop, seed))
        body["max_tokens"] = max_tokens
        if logprobs is not None and logprobs is not False:
            body["logprobs"] = 1 if logprobs is True else int(logprobs)
        if echo:
            body["echo"] = True
        body.update(extra or {})
        return body

    # --- answers ---

    async def _collect(
        self, path: str, body: dict[str, Any], n: int, parse: Parser, stops: list[str], start: int
    ) -> list[Choice]:
        url = self.config.url(path)

        async def fetch(count: int) -> list[Choice]:
            return parse(url, await self.transport.request_json("POST", path, {**body, "n": count}))

        first = parse(url, await self.transport.request_json("POST", path, body))
        choices = await self._repairs.fill(url, first, n, fetch)
        return self._repairs.stop(choices, stops, start)
