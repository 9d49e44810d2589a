"""The configuration of ``evoselfcode datagen`` (``configs/datagen.yaml`` holds the defaults).

Sections: ``api`` (where the generator is), ``prompts`` (the fixed prompt text and the FIM
tokens), ``namegen`` (stage A), ``codegen`` (stage B), ``filters``, ``io``. Loading validates
every key: an unknown key, a wrong type or an out-of-range value is a ``ConfigError`` naming
the dotted key and the value. Relative paths in ``io`` are taken from the current directory.
A config file never holds an API key: ``api.api_key_env`` names the environment variable, and
header values may say ``${VAR}`` to take a value from the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evolution.datagen.errors import ConfigError
from evolution.datagen.validate import build

if TYPE_CHECKING:
    from evolution.clients import ClientConfig, Secret

Arm = Literal["FIM", "L2R"]
PLACEHOLDER_BASE_URL = "http://127.0.0.1:8000/v1"
# Names that say nothing about what a function does (matched without trailing digits and _).
DEFAULT_WEAKLIST = (
    "foo", "bar", "baz", "qux", "test", "tests", "func", "function", "fn", "f", "g", "main",
    "run", "solve", "solution", "answer", "helper", "example", "sample", "my_function",
    "my_func", "algorithm", "algo", "do_something", "process", "calc", "calculate", "compute",
    "temp", "tmp", "dummy", "placeholder", "untitled", "name", "method", "new_function",
    "function_name", "func_name",
)  # fmt: skip
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _limits(**bounds: Any) -> dict[str, Any]:
    """Field metadata read by ``validate``: minimum, maximum, above (exclusive), nonempty."""
    return bounds


@dataclass(frozen=True)
class ApiConfig:
    """Where the generator is and how to reach it (``evolution.clients``)."""

    base_url: str = PLACEHOLDER_BASE_URL
    mode: Literal["openai", "endpoint"] = "openai"
    route: str = ""  # endpoint mode: the custom route (empty: /generate)
    headers: dict[str, str] = field(default_factory=dict)
    # endpoint mode: our field -> dotted path in the endpoint's JSON (empty: OpenAI's shape)
    field_map: dict[str, str] = field(default_factory=dict)
    model: str = field(default="Qwen2.5-Coder-32B", metadata=_limits(nonempty=True))
    api_key_env: str = "EVOSELFCODE_GENERATOR_API_KEY"
    timeout_s: float = field(default=120.0, metadata=_limits(above=0))
    max_retries: int = field(default=3, metadata=_limits(minimum=0, maximum=20))
    backoff_base_s: float = field(default=0.5, metadata=_limits(minimum=0))  # doubles per retry
    backoff_max_s: float = field(default=8.0, metadata=_limits(above=0))
    rate_limit_per_s: float | None = field(default=None, metadata=_limits(above=0))
    send_seed: bool = True  # per-request seeds make a vLLM-style server reproducible

    def client_config(self, concurrency: int) -> ClientConfig:
        """The clients' config (headers' ``${VAR}`` filled in from the environment)."""
        from evolution.clients import ClientConfig

        headers: dict[str, str | Secret] = {
            name: _expand(value, f"api.headers.{name}") for name, value in self.headers.items()
        }
        return ClientConfig(
            base_url=self.base_url,
            model=self.model,
            name="datagen generator",
            api_key_env=self.api_key_env or None,
            headers=headers,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s,
            rate_limit_per_s=self.rate_limit_per_s,
            max_concurrency=concurrency,
        )


@dataclass(frozen=True)
class PromptsConfig:
    """The design's fixed prompt text, and the FIM tokens of the model family (Qwen's here)."""

    global_prefix: str = "This is an algorithm function.\n\n"
    fim_prefix: str = field(default="<|fim_prefix|>", metadata=_limits(nonempty=True))
    fim_suffix: str = field(default="<|fim_suffix|>", metadata=_limits(nonempty=True))
    fim_middle: str = field(default="<|fim_middle|>", metadata=_limits(nonempty=True))
    # Control tokens a server may leave in the text (skip_special_tokens off): cut there.
    end_tokens: list[str] = field(
        default_factory=lambda: ["<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>"]
    )


@dataclass(frozen=True)
class NamegenConfig:
    """Stage A: function names, FIM against left-to-right, same sampling for both arms."""

    arms: list[Arm] = field(default_factory=lambda: ["FIM", "L2R"], metadata=_limits(nonempty=True))
    requests_per_arm: int = field(default=64, metadata=_limits(minimum=1))
    temperature: float = field(default=0.4, metadata=_limits(minimum=0, maximum=2))
    top_p: float = field(default=0.9, metadata=_limits(above=0, maximum=1))
    max_tokens: int = field(default=16, metadata=_limits(minimum=1))
    n: int = field(default=4, metadata=_limits(minimum=1, maximum=128))
    stop: list[str] = field(default_factory=lambda: ["(", " ", "\n"])
    seed: int = field(default=42, metadata=_limits(minimum=0))
    weaklist: list[str] = field(default_factory=lambda: list(DEFAULT_WEAKLIST))


@dataclass(frozen=True)
class CodegenConfig:
    """Stage B: the function written left-to-right after ``def {name}(``."""

    temperature: float = field(default=0.2, metadata=_limits(minimum=0, maximum=2))
    top_p: float = field(default=0.95, metadata=_limits(above=0, maximum=1))
    max_tokens: int = field(default=512, metadata=_limits(minimum=1))
    n: int = field(default=1, metadata=_limits(minimum=1, maximum=128))
    # Top-level statements that end the function (the pipeline also cuts there itself).
    stop: list[str] = field(
        default_factory=lambda: ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\n@"]
    )
    seed: int = field(default=1234, metadata=_limits(minimum=0))


@dataclass(frozen=True)
class ScoringConfig:
    """Optional token logprobs/perplexity of the filtered code (needs echo + logprobs)."""

    enabled: bool = False
    model: str = ""  # empty: api.model


@dataclass(frozen=True)
class FiltersConfig:
    """What a name or a function must be to be kept."""

    name_regex: str = r"^(?=.{3,64}$)[a-z][a-z0-9]*(?:_[a-z0-9]+)*$"
    benchmarks: list[str] = field(
        default_factory=lambda: ["humaneval", "mbpp"]
    )  # their entry-point names are refused
    reject_builtins: bool = True
    min_code_len: int = field(default=40, metadata=_limits(minimum=0))
    enable_ast: bool = True
    enable_ruff: bool = True
    ruff_select: list[str] = field(
        default_factory=lambda: ["F", "E9"], metadata=_limits(nonempty=True)
    )
    reject_stubs: bool = True
    scoring: ScoringConfig = field(default_factory=ScoringConfig)

    def name_pattern(self) -> re.Pattern[str]:
        return re.compile(self.name_regex)


@dataclass(frozen=True)
class IoConfig:
    """Inputs, outputs, and how much runs at once."""

    input_desc_path: str | None = None
    out_names_dir: str = field(default="data/generated/names", metadata=_limits(nonempty=True))
    out_code_dir: str = field(default="data/generated/code", metadata=_limits(nonempty=True))
    concurrency: int = field(default=16, metadata=_limits(minimum=1, maximum=1024))
    shard_size: int = field(default=10000, metadata=_limits(minimum=1))
    logs_dir: str = field(default="logs", metadata=_limits(nonempty=True))
    max_consecutive_errors: int = field(default=20, metadata=_limits(minimum=1))


@dataclass(frozen=True)
class DatagenConfig:
    """The whole configuration; ``load_config`` builds it from a YAML file."""

    api: ApiConfig = field(default_factory=ApiConfig)
    prompts: PromptsConfig = field(default_factory=PromptsConfig)
    namegen: NamegenConfig = field(default_factory=NamegenConfig)
    codegen: CodegenConfig = field(default_factory=CodegenConfig)
    filters: FiltersConfig = field(default_factory=FiltersConfig)
    io: IoConfig = field(default_factory=IoConfig)

    def __post_init__(self) -> None:
        _check(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Any, *, where: str = "config") -> DatagenConfig:
        """Build and validate; errors name ``where`` (the file) and the dotted key."""
        try:
            return build(cls, data, "")
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def fingerprint(settings: Any) -> str:
    """A stable hash of settings (anything JSON can hold): resumed runs must match it."""
    blob = json.dumps(settings, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def load_config(path: str | os.PathLike[str]) -> DatagenConfig:
    """Read and validate a YAML (or JSON) config file."""
    import yaml

    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {source}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    return DatagenConfig.from_mapping(data, where=str(source))


def _check(config: DatagenConfig) -> None:
    """Checks that span keys (single keys are checked while building)."""
    api, filters = config.api, config.filters
    if not api.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"api.base_url must start with http:// or https://, got {api.base_url!r}")
    if api.mode == "openai" and (api.route or api.field_map):
        key = "api.route" if api.route else "api.field_map"
        raise ConfigError(
            f"{key} applies to mode 'endpoint' only (mode 'openai' posts to "
            f"{api.base_url.rstrip('/')}/completions); remove it or set api.mode: endpoint"
        )
    if api.field_map:
        from evolution.clients import ClientConfigError, FieldMap

        try:
            FieldMap(dict(api.field_map))
        except ClientConfigError as exc:
            raise ConfigError(f"api.{str(exc).rstrip('.')}") from None
    if api.mode == "endpoint" and filters.scoring.enabled:
        raise ConfigError(
            "filters.scoring.enabled needs api.mode 'openai' (scoring asks /v1/completions "
            "to echo the code with logprobs)"
        )
    if len(set(config.namegen.arms)) != len(config.namegen.arms):
        raise ConfigError(f"namegen.arms lists an arm twice: {config.namegen.arms!r}")
    for section, stops in (("namegen", config.namegen.stop), ("codegen", config.codegen.stop)):
        if any(not s for s in stops):
            raise ConfigError(f"{section}.stop holds an empty string: {stops!r}")
    try:
        filters.name_pattern()
    except re.error as exc:
        raise ConfigError(
            f"filters.name_regex {filters.name_regex!r} is not a valid regular expression: {exc}"
        ) from None


def _expand(value: str, where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        variable = match.group(1)
        found = os.environ.get(variable)
        if not found:
            raise ConfigError(f"{where} refers to ${{{variable}}}, which is not set")
        return found

    return _ENV_REFERENCE.sub(replace, value)
