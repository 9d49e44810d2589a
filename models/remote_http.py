"""HTTP for the remote backend: one streamed ``/v1/completions`` call that can be abandoned.

The response is read on a helper thread that hands chunks over through a queue; the caller
waits on the queue in short steps, so a cancel or the time limit ends the call at once even
while the server is silent. Abandoning closes the response, which ends the helper's read.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from models.decode import Deadline
from models.errors import RemoteBackendError
from models.types import FinishReason

if TYPE_CHECKING:
    import httpx

_POLL_S = 0.02
_DONE = object()


class Abandoned(Exception):
    """The caller stopped waiting (cancelled or out of time); ``reason`` says which."""

    reason: FinishReason

    def __init__(self, reason: FinishReason) -> None:
        super().__init__(reason)
        self.reason = reason


def stream_completion(
    client: httpx.Client, url: str, body: dict[str, Any], deadline: Deadline
) -> Generator[dict[str, Any], None, None]:
    """The answer's JSON chunks (one whole JSON answer if the server does not stream).

    Raises RemoteBackendError for transport and HTTP failures, Abandoned when ``deadline``
    says stop.
    """
    events: queue.Queue[Any] = queue.Queue()
    response_box: list[httpx.Response] = []
    stop = threading.Event()

    def read() -> None:
        try:
            with client.stream("POST", url, json=body) as response:
                response_box.append(response)
                if stop.is_set():
                    return
                _raise_for_status(response, url)
                if "text/event-stream" in response.headers.get("content-type", ""):
                    for data in _sse_data(response.iter_lines()):
                        if stop.is_set():
                            return
                        events.put(data)
                else:
                    events.put(_parse_json(response.read(), url))
            events.put(_DONE)
        except RemoteBackendError as exc:
            events.put(exc)
        except Exception as exc:  # httpx transport errors, decoding errors
            events.put(translate_error(exc, url))

    threading.Thread(target=read, name="remote-completion", daemon=True).start()
    try:
        while True:
            try:
                item = events.get(timeout=_POLL_S)
            except queue.Empty:
                if reason := deadline.reason():
                    raise Abandoned(reason) from None
                continue
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            yield item
            if reason := deadline.reason():
                raise Abandoned(reason)
    finally:
        stop.set()
        for response in response_box:
            response.close()


def _sse_data(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.startswith("data:"):
            continue  # comments, event names, blank separators
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            data = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise RemoteBackendError(
                f"the server streamed a chunk that is not JSON: {payload[:200]!r}"
            ) from exc
        if isinstance(data, dict) and "error" in data:
            raise RemoteBackendError(f"the server reported an error mid-stream: {data['error']}")
        yield data


def _parse_json(raw: bytes, url: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RemoteBackendError(
            f"{url} answered with something that is not JSON: {raw[:200]!r}"
        ) from exc
    if not isinstance(data, dict):
        raise RemoteBackendError(f"{url} answered with JSON that is not an object: {data!r:.200}")
    return data


def _raise_for_status(response: httpx.Response, url: str) -> None:
    if response.status_code < 400:
        return
    detail = response.read().decode("utf-8", errors="replace")[:300]
    hint = ""
    if response.status_code in (401, 403):
        hint = " (check the API key: EVOSELFCODE_API_KEY or the extension's secret storage)"
    elif response.status_code == 404:
        hint = " (is the base URL right, ending in /v1, and the model name one the server serves?)"
    raise RemoteBackendError(
        f"{url} answered HTTP {response.status_code}{hint}: {detail}", status=response.status_code
    )


def translate_error(exc: Exception, url: str) -> RemoteBackendError:
    """A clear RemoteBackendError for an httpx failure."""
    import httpx

    if isinstance(exc, httpx.ConnectError):
        return RemoteBackendError(
            f"cannot reach {url}: {exc}. Is the completion server running? (vLLM: vllm serve "
            "MODEL; llama.cpp: llama-server -m MODEL.gguf; Ollama: ollama serve)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return RemoteBackendError(f"{url} did not answer in time ({type(exc).__name__})")
    if isinstance(exc, httpx.HTTPError):
        return RemoteBackendError(f"the connection to {url} failed: {type(exc).__name__}: {exc}")
    return RemoteBackendError(f"talking to {url} failed: {type(exc).__name__}: {exc}")
