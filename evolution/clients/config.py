"""``ClientConfig``: where an endpoint is, how to authenticate, and how hard to try.

Keys: ``api_key`` (handed in by the editor, kept in memory) wins over the environment
variable named by ``api_key_env`` (e.g. ``EVOSELFCODE_GENERATOR_API_KEY``). Both are held as
``Secret``; header values whose names look like credentials are wrapped the same way, so the
config's repr, the logs and the error messages never show them. A config *file* may not hold a
key: ``from_dict`` refuses ``api_key`` and asks for ``api_key_env``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from evolution.clients.errors import ClientConfigError
from evolution.clients.secret import Secret, secret_from_env

_CREDENTIAL_WORDS = ("authorization", "key", "token", "secret", "cookie", "password")


def looks_like_credential(header: str) -> bool:
    name = header.lower()
    return any(word in name for word in _CREDENTIAL_WORDS)


@dataclass
class ClientConfig:
    """Settings of one client (times in seconds). Validated on creation."""

    base_url: str
    model: str = ""
    name: str = "endpoint"  # the role in messages and logs: "generator", "verifier", ...
    api_key: Secret | str | None = None
    api_key_env: str | None = None
    headers: dict[str, str | Secret] = field(default_factory=dict)
    timeout_s: float = 60.0  # per attempt, for reading the answer
    connect_timeout_s: float = 5.0
    deadline_s: float | None = None  # across all attempts of one call; None: no limit
    max_retries: int = 3
    backoff_base_s: float = 0.25  # full jitter: sleep ~ U(0, min(max, base * 2**attempt))
    backoff_max_s: float = 8.0
    retry_after_max_s: float = 60.0  # a longer Retry-After fails at once instead of waiting
    breaker_failures: int = 5  # consecutive failures that open the circuit
    breaker_reset_s: float = 30.0  # how long it stays open before one probe request
    rate_limit_per_s: float | None = None  # token bucket; None: no limit
    rate_limit_burst: int | None = None  # bucket size; None: max(1, rate)
    max_concurrency: int = 32  # requests in flight (and pooled connections)
    fill_missing_choices: bool = True  # ask again when a server returns fewer than n choices
    enforce_stop: bool = True  # cut at stop sequences when a server ignored them

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(
            ("http://", "https://")
        ):
            raise ClientConfigError(
                f"{self.name}: base_url must start with http:// or https://, got {self.base_url!r}"
            )
        self.base_url = self.base_url.rstrip("/")
        if isinstance(self.api_key, str):
            self.api_key = Secret(self.api_key) if self.api_key else None
        self.headers = {
            k: Secret(v) if isinstance(v, str) and looks_like_credential(k) else v
            for k, v in dict(self.headers).items()
        }
        self._check_positive("timeout_s", "connect_timeout_s", "backoff_max_s", "breaker_reset_s")
        self._check_positive("deadline_s", "rate_limit_per_s", optional=True)
        for name in ("max_retries", "backoff_base_s", "retry_after_max_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ClientConfigError(f"{self.name}: {name} must be ≥ 0, got {value!r}")
        for name in ("breaker_failures", "max_concurrency", "rate_limit_burst"):
            value = getattr(self, name)
            if value is None and name == "rate_limit_burst":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ClientConfigError(
                    f"{self.name}: {name} must be an integer ≥ 1, got {value!r}"
                )

    def _check_positive(self, *names: str, optional: bool = False) -> None:
        for name in names:
            value = getattr(self, name)
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ClientConfigError(f"{self.name}: {name} must be > 0, got {value!r}")

    def resolved_api_key(self) -> Secret | None:
        """The key to send: the one handed in, else the environment variable's, else none."""
        if isinstance(self.api_key, Secret):
            return self.api_key
        return secret_from_env(self.api_key_env)

    def key_source(self) -> str:
        """Where the key came from, for error messages (never the key itself)."""
        if isinstance(self.api_key, Secret):
            return "the API key handed in by the editor was rejected"
        if secret_from_env(self.api_key_env) is not None:
            return f"the API key in ${self.api_key_env} was rejected"
        if self.api_key_env:
            return f"no API key was sent: set ${self.api_key_env} or enter the key in the editor"
        return "no API key was sent"

    def url(self, path: str) -> str:
        """``path`` under the base URL (an absolute URL is kept as it is)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "api") -> ClientConfig:
        """Build from a config file section; unknown keys and inline keys are refused."""
        if not isinstance(data, Mapping):
            raise ClientConfigError(f"{where}: must be a mapping, got {data!r}")
        if "api_key" in data:
            raise ClientConfigError(
                f"{where}.api_key: keys are never stored in config files; put the key in an "
                "environment variable and name it with api_key_env"
            )
        known = {f.name for f in fields(cls)} - {"api_key"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ClientConfigError(
                f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}"
            )
        if "base_url" not in data:
            raise ClientConfigError(f"{where}.base_url is required")
        try:
            return cls(**dict(data))
        except TypeError as exc:  # e.g. headers given as a list
            raise ClientConfigError(f"{where}: {exc}") from exc
