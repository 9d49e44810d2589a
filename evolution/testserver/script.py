"""Scripts: what the test server answers, as ordered rules loaded from YAML/JSON or built in code.

A script file (YAML or JSON) looks like this::

    models: [qwen2.5-coder-32b-instruct, qwen2.5-coder-14b-instruct]   # GET /v1/models
    strict_models: false        # true: an unlisted model gets 404 model_not_found
    rules:                      # tried in order; the first that matches answers
      - path: /v1/chat/completions            # exact request path (optional)
        model: qwen2.5-coder-14b-.*           # regex, full match on the request's model
        prompt: "(?s)Does the code"           # regex, searched in the prompt or last user message
        text: "Yes"                           # or texts: [...], one per choice, cycled
        logprobs: [{"Yes": -0.05, "No": -3.2}]  # per generated token: candidates -> logprob
      - prompt: "def "
        texts: ["add", "merge_sorted"]
        times: 1                              # answer at most once, then fall through
    default: {text: "..."}     # the reply when no rule matches
    custom_route:               # the non-OpenAI route for the custom-endpoint client
      route: /generate
      fields: {prompt: inputs, max_tokens: parameters.max_new_tokens, text: generated_text}

Rule reply fields: ``text``/``texts``; ``logprobs`` (scripted candidates per token position;
positions past the list, and tokens missing from a position, get ``tokens.default_logprob``);
``finish_reason`` (forces it; otherwise "stop", or "length" when ``max_tokens`` cut the text);
``honour_stop`` (default true: the text is cut before the first stop sequence);
``logprobs_supported`` (false: answer as a server without logprobs would, ``logprobs: null``);
``token_delay`` (seconds between streamed tokens).

When nothing matches, the server answers with ``default``, whose text is ``DEFAULT_TEXT``
unless the script sets it: a fixed, recognisable sentence rather than plausible code, so that a
test that forgot a rule fails visibly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from evolution.testserver.errors import ScriptError

DEFAULT_TEXT = "[evoselfcode testserver] no rule matched this request"
DEFAULT_MODELS = ("test-model",)

CUSTOM_REQUEST_KEYS = ("prompt", "model", "max_tokens", "temperature", "top_p", "n", "stop")
CUSTOM_RESPONSE_KEYS = ("text", "finish_reason")
# Shaped like Hugging Face text-generation-inference's /generate.
DEFAULT_CUSTOM_FIELDS = {
    "prompt": "inputs",
    "max_tokens": "parameters.max_new_tokens",
    "temperature": "parameters.temperature",
    "top_p": "parameters.top_p",
    "n": "parameters.n",
    "stop": "parameters.stop",
    "text": "generated_text",
}
_RESERVED_PREFIXES = ("/v1/", "/_control")


def _fail(where: str, message: str) -> ScriptError:
    return ScriptError(f"script {where}: {message}")


def _check_type(where: str, name: str, value: Any, kinds: tuple[type, ...], what: str) -> None:
    # bool is an int in Python; a number field must not accept true/false.
    if value is None or (isinstance(value, bool) and bool not in kinds):
        raise _fail(where, f"{name} must be {what}, got {value!r}")
    if not isinstance(value, kinds):
        raise _fail(where, f"{name} must be {what}, got {value!r}")


def _compile(where: str, name: str, pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    _check_type(where, name, pattern, (str,), "a regular expression (string)")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise _fail(where, f"{name} {pattern!r} is not a valid regular expression: {exc}") from exc


@dataclass
class Rule:
    """One scripted answer and the requests it applies to (see the module docstring)."""

    text: str | None = None
    texts: list[str] | None = None
    path: str | None = None
    model: str | None = None
    prompt: str | None = None
    times: int | None = None
    logprobs: list[dict[str, float]] = field(default_factory=list)
    finish_reason: str | None = None
    honour_stop: bool = True
    logprobs_supported: bool = True
    token_delay: float = 0.0
    where: str = field(default="rule", repr=False, compare=False)
    _model_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _prompt_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = self.where
        if (self.text is None) == (self.texts is None):
            raise _fail(where, "give exactly one of text (a string) or texts (a list of strings)")
        if self.text is not None:
            _check_type(where, "text", self.text, (str,), "a string")
        if self.texts is not None:
            if not isinstance(self.texts, list) or not self.texts:
                raise _fail(where, f"texts must be a non-empty list of strings, got {self.texts!r}")
            for item in self.texts:
                _check_type(where, "texts[]", item, (str,), "a string")
        if self.path is not None:
            _check_type(where, "path", self.path, (str,), "a path such as /v1/completions")
        if self.times is not None:
            _check_type(where, "times", self.times, (int,), "a positive integer")
            if self.times < 1:
                raise _fail(where, f"times must be a positive integer, got {self.times!r}")
        if not isinstance(self.logprobs, list):
            raise _fail(
                where, f"logprobs must be a list of {{token: logprob}}, got {self.logprobs!r}"
            )
        for position in self.logprobs:
            if not isinstance(position, dict):
                raise _fail(where, f"logprobs entries must be {{token: logprob}}, got {position!r}")
            for token, value in position.items():
                _check_type(where, f"logprobs[{token!r}]", value, (int, float), "a number ≤ 0")
                if value > 0:
                    raise _fail(where, f"logprobs[{token!r}] must be ≤ 0, got {value!r}")
        if self.finish_reason is not None:
            _check_type(where, "finish_reason", self.finish_reason, (str,), "a string")
        _check_type(where, "honour_stop", self.honour_stop, (bool,), "true or false")
        _check_type(where, "logprobs_supported", self.logprobs_supported, (bool,), "true or false")
        _check_type(where, "token_delay", self.token_delay, (int, float), "seconds ≥ 0")
        if self.token_delay < 0:
            raise _fail(where, f"token_delay must be ≥ 0, got {self.token_delay!r}")
        self._model_re = _compile(where, "model", self.model)
        self._prompt_re = _compile(where, "prompt", self.prompt)

    @property
    def replies(self) -> list[str]:
        """The texts handed out to choices in turn."""
        return [self.text] if self.text is not None else list(self.texts or [])

    @property
    def has_match_fields(self) -> bool:
        return any(v is not None for v in (self.path, self.model, self.prompt, self.times))

    def matches(self, path: str, model: str | None, prompt: str) -> bool:
        """Whether this rule applies to a request (``times`` is checked by the caller)."""
        if self.path is not None and self.path != path:
            return False
        if self._model_re is not None and (
            model is None or self._model_re.fullmatch(model) is None
        ):
            return False
        return self._prompt_re is None or self._prompt_re.search(prompt) is not None

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Rule:
        if not isinstance(data, Mapping):
            raise _fail(where, f"must be a mapping of rule fields, got {data!r}")
        known = {f.name for f in fields(cls) if f.init and f.name != "where"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _fail(
                where, f"unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}"
            )
        return cls(**dict(data), where=where)

    def to_dict(self) -> dict[str, Any]:
        """The rule in the file format, leaving out fields at their defaults."""
        defaults = Rule(text="")
        out: dict[str, Any] = (
            {"text": self.text} if self.text is not None else {"texts": self.texts}
        )
        for f in fields(self):
            if f.init and f.name not in ("where", "text", "texts"):
                value = getattr(self, f.name)
                if value != getattr(defaults, f.name):
                    out[f.name] = value
        return out


@dataclass
class CustomRoute:
    """The non-OpenAI route: where the request's fields and the reply's text live (dotted paths).

    ``fields`` maps names from ``CUSTOM_REQUEST_KEYS`` and ``CUSTOM_RESPONSE_KEYS`` to dotted
    paths in the JSON (``parameters.max_new_tokens``). The reply puts one string at the
    ``text`` path when one choice was asked for, else a list of strings; a ``*`` segment
    (``outputs.*.text``, or ``*.generated_text`` for a top-level list) makes a list of objects.
    """

    route: str = "/generate"
    fields: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CUSTOM_FIELDS))

    def __post_init__(self) -> None:
        where = "custom_route"
        _check_type(where, "route", self.route, (str,), "a path such as /generate")
        if not self.route.startswith("/") or self.route.startswith(_RESERVED_PREFIXES):
            raise _fail(
                where, f"route must start with / and not with /v1/ or /_control: {self.route!r}"
            )
        if not isinstance(self.fields, Mapping):
            raise _fail(where, f"fields must map names to dotted paths, got {self.fields!r}")
        allowed = CUSTOM_REQUEST_KEYS + CUSTOM_RESPONSE_KEYS
        for name, path in self.fields.items():
            if name not in allowed:
                raise _fail(where, f"unknown field {name!r}; known: {', '.join(allowed)}")
            _check_type(where, f"fields.{name}", path, (str,), "a dotted path")
        for required in ("prompt", "text"):
            if required not in self.fields:
                raise _fail(where, f"fields must say where {required!r} is")

    @classmethod
    def from_dict(cls, data: Any) -> CustomRoute:
        if not isinstance(data, Mapping):
            raise _fail("custom_route", f"must be a mapping, got {data!r}")
        unknown = sorted(set(data) - {"route", "fields"})
        if unknown:
            raise _fail("custom_route", f"unknown key {unknown[0]!r}; known keys: fields, route")
        return cls(**dict(data))


@dataclass
class Script:
    """Ordered rules, the default reply, the model list and the custom route."""

    rules: list[Rule] = field(default_factory=list)
    default: Rule = field(default_factory=lambda: Rule(text=DEFAULT_TEXT, where="default"))
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    strict_models: bool = False
    custom_route: CustomRoute = field(default_factory=CustomRoute)

    def __post_init__(self) -> None:
        if self.default.has_match_fields:
            raise _fail("default", "the default reply cannot have path, model, prompt or times")
        if not isinstance(self.models, list) or not all(isinstance(m, str) for m in self.models):
            raise _fail("models", f"must be a list of model names, got {self.models!r}")
        _check_type("strict_models", "strict_models", self.strict_models, (bool,), "true or false")

    def choose(self, path: str, model: str | None, prompt: str, uses: dict[int, int]) -> Rule:
        """The first matching rule with uses left (counted in ``uses``), else the default."""
        for index, rule in enumerate(self.rules):
            if rule.times is not None and uses.get(index, 0) >= rule.times:
                continue
            if rule.matches(path, model, prompt):
                uses[index] = uses.get(index, 0) + 1
                return rule
        return self.default

    @classmethod
    def from_dict(cls, data: Any) -> Script:
        if not isinstance(data, Mapping):
            raise _fail("root", f"must be a mapping, got {type(data).__name__}")
        known = {"rules", "default", "models", "strict_models", "custom_route"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _fail(
                "root", f"unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}"
            )
        rules = data.get("rules") or []
        if not isinstance(rules, list):
            raise _fail("rules", f"must be a list of rules, got {rules!r}")
        kwargs: dict[str, Any] = {
            "rules": [Rule.from_dict(r, where=f"rules[{i}]") for i, r in enumerate(rules)]
        }
        if "default" in data:
            kwargs["default"] = Rule.from_dict(data["default"], where="default")
        if "models" in data:
            kwargs["models"] = data["models"]
        if "strict_models" in data:
            kwargs["strict_models"] = data["strict_models"]
        if "custom_route" in data:
            kwargs["custom_route"] = CustomRoute.from_dict(data["custom_route"])
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | Path) -> Script:
        """Read a script from a YAML or JSON file."""
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScriptError(f"cannot read script file {path}: {exc}") from exc
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise ScriptError(f"script file {path} is not valid YAML/JSON: {exc}") from exc
        return cls.from_dict(data or {})

    @classmethod
    def coerce(cls, value: Script | Mapping[str, Any] | str | Path | None) -> Script:
        """A Script from a Script, a mapping in the file format, a file path, or None (empty)."""
        if value is None:
            return cls()
        if isinstance(value, Script):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        return cls.load(value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": [rule.to_dict() for rule in self.rules],
            "default": self.default.to_dict(),
            "models": list(self.models),
            "strict_models": self.strict_models,
            "custom_route": {
                "route": self.custom_route.route,
                "fields": dict(self.custom_route.fields),
            },
        }
