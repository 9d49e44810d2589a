"""The clients' one exception tree.

    ClientError
    ├── ClientConfigError      a bad setting (names the field and the value)
    ├── EndpointUnreachable    no connection (refused, DNS, connect timeout)     retried
    ├── RequestTimeout         no answer in time (read timeout, HTTP 408)          retried
    ├── AuthenticationError    HTTP 401/403: the key is missing or wrong           not retried
    ├── RateLimited            HTTP 429 (``retry_after`` from Retry-After)         retried
    ├── ServerError            HTTP 5xx/409, or the connection closed mid-answer   retried
    ├── BadRequest             HTTP 400/404/422 and other 4xx                      not retried
    ├── MalformedResponse      an answer that is not the expected JSON             not retried
    ├── CircuitOpen            too many recent failures: requests paused           not retried
    └── LogprobsUnsupported    the server returns no token logprobs (or no echo)   not retried

Messages say which endpoint (its URL, never the key), what happened and what to do.
"""

from __future__ import annotations

from typing import ClassVar


class ClientError(Exception):
    """A request to a model endpoint failed, or a client is misconfigured."""

    retryable: ClassVar[bool] = False
    hint: ClassVar[str] = ""

    def __init__(
        self,
        endpoint: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(endpoint, detail)
        self.endpoint = endpoint
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        self.attempts = 1

    def __str__(self) -> str:
        where = f"{self.endpoint}: " if self.endpoint else ""
        tried = f" (after {self.attempts} attempts)" if self.attempts > 1 else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{where}{self.detail}{tried}.{hint}"


class ClientConfigError(ClientError, ValueError):
    """A client setting is invalid."""

    def __init__(self, detail: str) -> None:
        super().__init__("", detail)


class EndpointUnreachable(ClientError):
    retryable = True
    hint = "Check that the server is running and that the base URL is right."


class RequestTimeout(ClientError):
    retryable = True
    hint = "The server is slow or overloaded: raise the timeout or try again later."


class AuthenticationError(ClientError):
    hint = "Check the API key (its environment variable, or the key set in the editor)."


class RateLimited(ClientError):
    retryable = True
    hint = "The server is rate limiting: lower the concurrency or the rate limit, or wait."


class ServerError(ClientError):
    retryable = True
    hint = "The server failed; try again later or look at the server's logs."


class BadRequest(ClientError):
    hint = "The server rejected the request: check the model name and the parameters."


class MalformedResponse(ClientError):
    hint = (
        "This is not what an OpenAI-compatible server answers: check the base URL "
        "(it usually ends in /v1) or, for a custom endpoint, the field map."
    )


class CircuitOpen(ClientError):
    hint = "Requests are paused after repeated failures to let the server recover."


class LogprobsUnsupported(ClientError):
    hint = (
        "Scoring needs token logprobs of the prompt (completions with echo and logprobs): "
        "use a server that offers them (vLLM, llama.cpp's server) or turn scoring off."
    )
