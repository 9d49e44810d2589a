"""Settings of the self-evolve flow, and the two clients it talks to.

The editor's settings (``evoselfcode.generator.*``, ``evoselfcode.verifier.*``,
``evoselfcode.evolution.*`` in package.json) map onto ``EvolveSettings.from_endpoints``.
API keys come from the editor (kept in memory) or from ``EVOSELFCODE_GENERATOR_API_KEY`` /
``EVOSELFCODE_VERIFIER_API_KEY``; they are held as ``Secret`` and never logged or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from evolution.clients.config import ClientConfig
from evolution.clients.secret import GENERATOR_API_KEY_ENV, VERIFIER_API_KEY_ENV, Secret
from evolution.evolve.errors import InvalidSettings
from evolution.evolve.gates import GATES_OF_POLICY, GatePolicy

if TYPE_CHECKING:
    from evolution.evolve.verify import ChatClient

DEFAULT_GENERATOR_MODEL = "qwen2.5-coder-32b-instruct"
DEFAULT_VERIFIER_MODEL = "qwen2.5-coder-14b-instruct"
DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


@dataclass
class EvolveSettings:
    """How to reach the models, how to sample, and how strict the gates are."""

    generator: ClientConfig
    verifier: ClientConfig
    temperature: float = 0.2  # generator sampling
    top_p: float = 0.95
    max_tokens: int = 2048
    verifier_top_logprobs: int = 10  # candidates per token asked from the verifier
    test_timeout_s: float = 10.0  # the execution gate's limit for the generated tests
    min_verifier_confidence: float = 0.5  # least P(yes) for the verifier gate
    require_confidence: bool = False  # True: no logprobs from the verifier means rejection
    context_chars: int = 6000  # most characters of surrounding code in the generator prompt
    max_function_chars: int = 40_000  # a longer function (or selection) is refused up front
    # Run generated code even where the sandbox is not fully isolated (the kernel refused its
    # namespaces): only Landlock, seccomp and the in-process guard then hold it.
    allow_guard_only: bool = False
    # Which gates a reply must pass to be recorded (``gates.GATES_OF_POLICY``); anything
    # but "all" is for measuring what the gates are worth, never for the editor.
    gates: GatePolicy = "all"

    def __post_init__(self) -> None:
        checks = {
            "temperature": 0 <= self.temperature <= 2,
            "top_p": 0 < self.top_p <= 1,
            "max_tokens": isinstance(self.max_tokens, int) and self.max_tokens >= 16,
            "verifier_top_logprobs": 1 <= self.verifier_top_logprobs <= 20,
            "test_timeout_s": self.test_timeout_s > 0,
            "min_verifier_confidence": 0 <= self.min_verifier_confidence <= 1,
            "context_chars": self.context_chars >= 0,
            "max_function_chars": self.max_function_chars >= 1,
            "gates": self.gates in GATES_OF_POLICY,
        }
        for name, ok in checks.items():
            if not ok:
                value = getattr(self, name)
                raise InvalidSettings(f"evolution setting {name} = {value!r} is out of range")

    @classmethod
    def from_endpoints(
        cls,
        generator_url: str = DEFAULT_BASE_URL,
        verifier_url: str | None = None,
        *,
        generator_model: str = DEFAULT_GENERATOR_MODEL,
        verifier_model: str = DEFAULT_VERIFIER_MODEL,
        generator_key: str | Secret | None = None,
        verifier_key: str | Secret | None = None,
        request_timeout_s: float = 120.0,
        max_retries: int = 3,
        **options: object,
    ) -> EvolveSettings:
        """Settings for the two roles; ``verifier_url`` defaults to the generator's."""
        generator = ClientConfig(
            base_url=generator_url,
            model=generator_model,
            name="generator",
            api_key=generator_key,
            api_key_env=GENERATOR_API_KEY_ENV,
            timeout_s=request_timeout_s,
            max_retries=max_retries,
        )
        verifier = ClientConfig(
            base_url=verifier_url or generator_url,
            model=verifier_model,
            name="verifier",
            api_key=verifier_key,
            api_key_env=VERIFIER_API_KEY_ENV,
            timeout_s=request_timeout_s,
            max_retries=max_retries,
        )
        return cls(generator=generator, verifier=verifier, **options)  # type: ignore[arg-type]


class EvolveClients:
    """The generator's and the verifier's clients; open once, share across many evolutions."""

    def __init__(self, generator: ChatClient, verifier: ChatClient) -> None:
        self.generator = generator
        self.verifier = verifier

    @classmethod
    def open(cls, settings: EvolveSettings) -> EvolveClients:
        from evolution.clients.openai import OpenAIClient

        return cls(OpenAIClient(settings.generator), OpenAIClient(settings.verifier))

    async def aclose(self) -> None:
        for client in (self.generator, self.verifier):
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()

    async def __aenter__(self) -> EvolveClients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
