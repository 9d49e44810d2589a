"""The settings tree: every ``evoselfcode.*`` setting of package.json as typed dataclasses.

package.json's ``contributes.configuration`` is the schema; this module mirrors it (snake_case
fields for camelCase keys, ``Literal`` for enums, ``bounded`` metadata for minimum/maximum) and
tests/server/test_settings.py checks that both agree. Clients send settings as the nested
object VS Code's ``getConfiguration("evoselfcode")`` returns, as flat dotted keys, or wrapped in
``{"evoselfcode": ...}``; all three are read. An invalid value is reported and the previous
value kept, so one typo never resets the rest.

One key in ``initializationOptions`` is about the client, not a setting: ``clientUi: true``
says the client shows self-evolve results itself (a diff with Accept / Reject, as the VS Code
extension does). Without it the server asks with ``window/showMessageRequest`` and applies the
edit itself, so any LSP client gets the whole loop. ``client_options`` takes it out.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from evaluation.tasks import PromptFormat
from models.chat import DEFAULT_SYSTEM_PROMPT
from models.paths import DEFAULT_CHAT_MODEL, DEFAULT_MODEL

SECTION = "evoselfcode"
CLIENT_UI = "clientUi"

LogLevel = Literal["error", "warning", "info", "debug"]
Device = Literal["auto", "cpu", "cuda", "mps"]
Dtype = Literal["auto", "bfloat16", "float16", "float32"]
Quantization = Literal["auto", "none", "16bit", "8bit", "4bit"]
Backend = Literal["auto", "local", "llama.cpp", "remote"]


def bounded(default: float, minimum: float | None = None, maximum: float | None = None) -> Any:
    """A dataclass field with package.json's ``minimum``/``maximum``, checked on parse."""
    return field(default=default, metadata={"minimum": minimum, "maximum": maximum})


@dataclass(frozen=True)
class RemoteSettings:
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = ""


@dataclass(frozen=True)
class CompletionSettings:
    enabled: bool = True
    debounce_ms: int = bounded(75, 0, 2000)
    adaptive_debounce: bool = True
    max_tokens: int = bounded(64, 1, 2048)
    temperature: float = bounded(0.0, 0, 2)
    top_p: float = bounded(0.95, 0.01, 1)
    context_tokens: int = bounded(1536, 64, 32768)
    prefix_share: float = bounded(0.75, 0.1, 0.95)
    timeout_ms: int = bounded(3000, 100, 60000)
    time_box_ms: int = bounded(1000, 0, 60000)  # 0: off
    prefetch: bool = True
    candidates: int = bounded(1, 1, 8)
    token_healing: bool = False
    open_documents: bool = True
    record_outcomes: bool = True
    train_after_accepts: int = bounded(0, 0)  # 0: never


@dataclass(frozen=True)
class ChatSettings:
    model: str = DEFAULT_CHAT_MODEL
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    temperature: float = bounded(0.2, 0, 2)
    top_p: float = bounded(0.9, 0.01, 1)
    max_tokens: int = bounded(512, 1, 2048)


@dataclass(frozen=True)
class EndpointSettings:
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = ""


@dataclass(frozen=True)
class EvolutionSettings:
    temperature: float = bounded(0.2, 0, 2)
    max_tokens: int = bounded(2048, 64, 8192)
    request_timeout_seconds: float = bounded(120.0, 1, 1800)
    test_timeout_seconds: float = bounded(10.0, 1, 600)
    min_verifier_confidence: float = bounded(0.5, 0, 1)
    allow_guard_only: bool = False


@dataclass(frozen=True)
class FinetuneSettings:
    epochs: float = bounded(3.0, 0.1, 100)
    learning_rate: float = bounded(0.0002, 0, 1)
    lora_rank: int = bounded(16, 1, 512)
    lora_alpha: int = bounded(32, 1, 1024)
    batch_size: int = bounded(4, 1, 512)
    max_length: int = bounded(1024, 32, 32768)
    fim_share: float = bounded(0.2, 0, 1)
    eval_dataset: str = "humaneval"
    eval_prompt_format: PromptFormat = "auto"
    eval_tasks: int = bounded(40, 0)
    auto_promote: bool = True


@dataclass(frozen=True)
class EvaluationSettings:
    dataset: str = "humaneval"
    limit: int = bounded(0, 0)
    workers: int = bounded(0, 0, 256)
    timeout_seconds: float = bounded(5.0, 0.5, 600)
    samples_per_task: int = bounded(1, 1, 200)
    temperature: float = bounded(0.0, 0, 2)


@dataclass(frozen=True)
class Settings:
    """Every ``evoselfcode.*`` setting; defaults equal package.json's."""

    python: str = ""
    log_level: LogLevel = "info"
    model: str = DEFAULT_MODEL
    models_dir: str = ""
    adapter: str = "promoted"
    device: Device = "auto"
    dtype: Dtype = "auto"
    quantization: Quantization = "auto"
    backend: Backend = "auto"
    remote: RemoteSettings = field(default_factory=RemoteSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    generator: EndpointSettings = field(
        default_factory=lambda: EndpointSettings(model="qwen2.5-coder-32b-instruct")
    )
    verifier: EndpointSettings = field(
        default_factory=lambda: EndpointSettings(model="qwen2.5-coder-14b-instruct")
    )
    evolution: EvolutionSettings = field(default_factory=EvolutionSettings)
    data_dir: str = ""
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)


@dataclass(frozen=True)
class Leaf:
    """One setting: its dotted camelCase key (without ``evoselfcode.``) and its schema."""

    key: str
    path: tuple[str, ...]  # snake_case attribute path in the tree
    type: type  # str, int, float or bool
    default: Any
    choices: tuple[str, ...] | None
    minimum: float | None
    maximum: float | None


@dataclass(frozen=True)
class ParsedSettings:
    settings: Settings
    problems: list[str]  # one readable line per rejected value or unknown key
    changed: list[str]  # dotted keys whose value changed


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _walk(cls: type, prefix: tuple[str, ...], instance: Any) -> Iterator[Leaf]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        value = getattr(instance, f.name)
        path = (*prefix, f.name)
        if dataclasses.is_dataclass(hint):
            yield from _walk(typing.cast(type, hint), path, value)
            continue
        choices = typing.get_args(hint) if typing.get_origin(hint) is Literal else None
        yield Leaf(
            key=".".join(camel(p) for p in path),
            path=path,
            type=str if choices else typing.cast(type, hint),
            default=value,
            choices=choices,
            minimum=f.metadata.get("minimum"),
            maximum=f.metadata.get("maximum"),
        )


@functools.lru_cache(maxsize=1)
def leaves() -> tuple[Leaf, ...]:
    """Every setting of the tree, in declaration order."""
    return tuple(_walk(Settings, (), Settings()))


def _leaf_index() -> dict[str, Leaf]:
    return {leaf.key: leaf for leaf in leaves()}


def get_value(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for part in path:
        value = getattr(value, part)
    return value


def _with_value(node: Any, path: tuple[str, ...], value: Any) -> Any:
    head, *rest = path
    new = value if not rest else _with_value(getattr(node, head), tuple(rest), value)
    return dataclasses.replace(node, **{head: new})


def flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"completion": {"debounceMs": 0}}`` and ``{"completion.debounceMs": 0}`` both give
    ``{"completion.debounceMs": 0}``; a leading ``evoselfcode`` level or prefix is dropped."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{full}."))
        else:
            flat[full] = value
    return {k.removeprefix(f"{SECTION}."): v for k, v in flat.items()}


def _coerce(leaf: Leaf, value: Any) -> Any:
    """The value in the leaf's type, or ValueError saying what was wrong."""
    name = f"{SECTION}.{leaf.key}"
    if leaf.type is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if leaf.type is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        if leaf.choices and value not in leaf.choices:
            raise ValueError(f"{name} must be one of {', '.join(leaf.choices)}; got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if leaf.type is int:
        if value != int(value):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if leaf.minimum is not None and value < leaf.minimum:
        raise ValueError(f"{name} must be at least {leaf.minimum:g}, got {value!r}")
    if leaf.maximum is not None and value > leaf.maximum:
        raise ValueError(f"{name} must be at most {leaf.maximum:g}, got {value!r}")
    return value


def client_options(raw: Any) -> tuple[Any, dict[str, Any]]:
    """Split ``raw`` into the settings and the client options (``clientUi``)."""
    if not isinstance(raw, Mapping):
        return raw, {}
    flat = flatten(raw)
    options = {CLIENT_UI: flat.pop(CLIENT_UI)} if CLIENT_UI in flat else {}
    return (flat if options else raw), options


def parse_settings(raw: Any, previous: Settings | None = None) -> ParsedSettings:
    """Apply the client's values over ``previous``; invalid ones keep the previous value.

    Keys missing from ``raw`` (or null) keep their previous value too, so a client may send
    only what changed.
    """
    settings = previous or Settings()
    if raw is None:
        return ParsedSettings(settings, [], [])
    if not isinstance(raw, Mapping):
        return ParsedSettings(settings, [f"settings must be an object, got {raw!r:.80}"], [])
    index = _leaf_index()
    problems: list[str] = []
    changed: list[str] = []
    for key, value in flatten(raw).items():
        leaf = index.get(key)
        if leaf is None:
            problems.append(f"unknown setting {SECTION}.{key} (ignored)")
            continue
        if value is None:
            continue
        try:
            value = _coerce(leaf, value)
        except ValueError as exc:
            kept = get_value(settings, leaf.path)
            problems.append(f"{exc}; keeping {kept!r}")
            continue
        if value != get_value(settings, leaf.path):
            settings = _with_value(settings, leaf.path, value)
            changed.append(key)
    return ParsedSettings(settings, problems, changed)
