"""Clients for the remote generator and verifier: OpenAI-compatible, custom endpoints, scoring.

All async (httpx), all through one resilience layer (``transport``: retries with backoff and
Retry-After, circuit breaker, token-bucket rate limit, timeouts) and one exception tree
(``errors``). API keys are held as ``Secret`` and never logged.

Importing this package is cheap; httpx is imported when the first client is made.
"""

from evolution.clients.base import CompletionClient, completion_client
from evolution.clients.choice import Choice, StreamDelta
from evolution.clients.config import ClientConfig
from evolution.clients.endpoint import EndpointClient
from evolution.clients.errors import (
    AuthenticationError,
    BadRequest,
    CircuitOpen,
    ClientConfigError,
    ClientError,
    EndpointUnreachable,
    LogprobsUnsupported,
    MalformedResponse,
    RateLimited,
    RequestTimeout,
    ServerError,
)
from evolution.clients.fieldmap import DEFAULT_FIELD_MAP, FieldMap
from evolution.clients.openai import OpenAIClient
from evolution.clients.scoring import ScoringClient, TokenScores
from evolution.clients.secret import GENERATOR_API_KEY_ENV, VERIFIER_API_KEY_ENV, Secret

__all__ = [
    "DEFAULT_FIELD_MAP",
    "GENERATOR_API_KEY_ENV",
    "VERIFIER_API_KEY_ENV",
    "AuthenticationError",
    "BadRequest",
    "Choice",
    "CircuitOpen",
    "ClientConfig",
    "ClientConfigError",
    "ClientError",
    "CompletionClient",
    "EndpointClient",
    "EndpointUnreachable",
    "FieldMap",
    "LogprobsUnsupported",
    "MalformedResponse",
    "OpenAIClient",
    "RateLimited",
    "RequestTimeout",
    "ScoringClient",
    "Secret",
    "ServerError",
    "StreamDelta",
    "TokenScores",
    "completion_client",
]
