"""Field maps: where a custom endpoint wants each request field and puts each answer field.

A field map is a mapping from our names to dotted paths in the endpoint's JSON, e.g. for
Hugging Face text-generation-inference::

    {"prompt": "inputs", "max_tokens": "parameters.max_new_tokens",
     "temperature": "parameters.temperature", "stop": "parameters.stop",
     "text": "generated_text"}

Request names: ``prompt`` (required), ``model``, ``max_tokens``, ``temperature``, ``top_p``,
``n``, ``stop``, ``logprobs``, ``seed``. A request field without a path is not sent.
Answer names: ``text`` (required), ``finish_reason``, ``tokens``, ``token_logprobs``.

Paths: names joined by dots; a number indexes a list (``outputs.0.text``). In answer paths
one ``*`` segment enumerates the choices (``choices.*.text``; ``*.generated_text`` when the
answer is a top-level list). Without ``*``, a string at the ``text`` path is one choice and a
list of strings is one choice each; ``tokens``/``token_logprobs`` then hold one list (one
choice) or a list of lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evolution.clients.choice import Choice
from evolution.clients.errors import ClientConfigError, MalformedResponse

REQUEST_FIELDS = (
    "prompt",
    "model",
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "logprobs",
    "seed",
)
RESPONSE_FIELDS = ("text", "finish_reason", "tokens", "token_logprobs")
# Shaped like OpenAI's /v1/completions, which many custom servers imitate.
DEFAULT_FIELD_MAP = {
    "prompt": "prompt",
    "model": "model",
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "n": "n",
    "stop": "stop",
    "seed": "seed",
    "text": "choices.*.text",
    "finish_reason": "choices.*.finish_reason",
}


class _Missing(Exception):
    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _resolve(data: Any, segments: list[str], seen: str = "") -> Any:
    if not segments:
        return data
    head, rest = segments[0], segments[1:]
    here = f"{seen}.{head}" if seen else head
    if head == "*":
        if not isinstance(data, list):
            raise _Missing(here)
        return [_resolve(item, rest, here) for item in data]
    if isinstance(data, list) and head.isdigit():
        if int(head) >= len(data):
            raise _Missing(here)
        return _resolve(data[int(head)], rest, here)
    if not isinstance(data, dict) or head not in data:
        raise _Missing(here)
    return _resolve(data[head], rest, here)


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    names = path.split(".")
    for name in names[:-1]:
        body = body.setdefault(name, {})
        if not isinstance(body, dict):
            raise ClientConfigError(f"field map: {path} crosses a value that is not an object")
    body[names[-1]] = value


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` merged into ``base`` (nested objects merged, other values replaced)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class FieldMap:
    """A validated field map (see the module docstring for the format)."""

    paths: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELD_MAP))

    def __post_init__(self) -> None:
        if not isinstance(self.paths, Mapping):
            raise ClientConfigError(f"field_map must map names to dotted paths, got {self.paths!r}")
        for name, path in self.paths.items():
            if name not in REQUEST_FIELDS + RESPONSE_FIELDS:
                known = ", ".join(REQUEST_FIELDS + RESPONSE_FIELDS)
                raise ClientConfigError(f"field_map: unknown field {name!r}; known: {known}")
            if not isinstance(path, str) or not path or any(not s for s in path.split(".")):
                raise ClientConfigError(f"field_map.{name}: {path!r} is not a dotted path")
            segments = path.split(".")
            if name in REQUEST_FIELDS and any(s == "*" or s.isdigit() for s in segments):
                raise ClientConfigError(
                    f"field_map.{name}: request paths are plain names ({path!r} has * or a number)"
                )
            if segments.count("*") > 1:
                raise ClientConfigError(f"field_map.{name}: at most one * per path, got {path!r}")
        for required in ("prompt", "text"):
            if required not in self.paths:
                raise ClientConfigError(f"field_map must say where {required!r} goes")

    @classmethod
    def of(cls, value: FieldMap | Mapping[str, str] | None) -> FieldMap:
        if value is None:
            return cls()
        return value if isinstance(value, FieldMap) else cls(dict(value))

    def request_body(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The request JSON: each given (non-None) value at its path; unmapped ones left out."""
        body: dict[str, Any] = {}
        for name, value in values.items():
            if value is not None and name in self.paths:
                _put(body, self.paths[name], value)
        return body

    def maps(self, name: str) -> bool:
        return name in self.paths

    def choices(self, url: str, data: Any) -> list[Choice]:
        """The choices in an answer, with a message naming the path when it is not there."""
        texts = self._per_choice(url, data, "text", required=True)
        if texts is None or not all(isinstance(t, str) for t in texts):
            raise MalformedResponse(url, f"{self.paths['text']} does not hold text")
        count = len(texts)
        finishes = self._per_choice(url, data, "finish_reason", count=count)
        tokens = self._per_choice(url, data, "tokens", count=count, nested=True)
        logprobs = self._per_choice(url, data, "token_logprobs", count=count, nested=True)
        out = []
        for i, text in enumerate(texts):
            token_fields: dict[str, Any] = {}
            if tokens is not None and logprobs is not None:
                try:
                    token_fields = {
                        "tokens": tuple(str(t) for t in tokens[i]),
                        "token_logprobs": tuple(
                            None if v is None else float(v) for v in logprobs[i]
                        ),
                    }
                except (TypeError, ValueError) as exc:
                    raise MalformedResponse(url, f"token logprobs are malformed: {exc!r}") from exc
            finish = finishes[i] if finishes is not None else None
            out.append(Choice(i, text, finish if isinstance(finish, str) else None, **token_fields))
        return out

    def _per_choice(
        self,
        url: str,
        data: Any,
        name: str,
        *,
        required: bool = False,
        count: int | None = None,
        nested: bool = False,
    ) -> list[Any] | None:
        path = self.paths.get(name)
        if path is None:
            return None
        segments = path.split(".")
        try:
            value = _resolve(data, segments)
        except _Missing as missing:
            if not required:
                return None
            top = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
            raise MalformedResponse(
                url, f"no {missing.where!r} in the answer (field map text: {path!r}; got {top})"
            ) from None
        if "*" in segments:
            values = value
        elif nested:  # a list of tokens is one choice's when there is one choice
            values = [value] if count == 1 else value
        else:
            values = value if isinstance(value, list) else [value]
        if not isinstance(values, list) or (count is not None and len(values) != count):
            return None  # optional fields that do not line up with the choices are ignored
        return values
