"""The custom (non-OpenAI) route: request fields and reply text at configurable dotted paths.

Path format: names joined by dots (``parameters.max_new_tokens``); a ``*`` segment stands for
"each element of a list" (``outputs.*.text``; ``*.generated_text`` when the top level is a
list). This is the test server's own reading of the format, written separately from the
client's so that the two check each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evolution.testserver.replies import RequestRejected
from evolution.testserver.responses import GeneratedChoice
from evolution.testserver.script import CustomRoute

_MISSING = object()


def _get(obj: Any, path: str) -> Any:
    for name in path.split("."):
        if not isinstance(obj, dict) or name not in obj:
            return _MISSING
        obj = obj[name]
    return obj


def _put(obj: dict, path: str, value: Any) -> None:
    names = path.split(".")
    for name in names[:-1]:
        obj = obj.setdefault(name, {})
    obj[names[-1]] = value


@dataclass
class CustomRequest:
    prompt: str
    model: str | None
    max_tokens: int | None
    n: int
    n_given: bool
    stop: list[str]


def read_custom_request(route: CustomRoute, body: dict) -> CustomRequest:
    """The prompt and sampling fields of a custom-route request, with 400s naming the path."""

    def field(name: str, kinds: tuple[type, ...], what: str) -> Any:
        path = route.fields.get(name)
        if path is None:
            return None
        value = _get(body, path)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise RequestRejected(400, f"{path} ({name}) must be {what}, got {value!r}")
        return value

    prompt = field("prompt", (str,), "a string")
    if prompt is None:
        raise RequestRejected(400, f"{route.fields['prompt']} (the prompt) is required")
    field("temperature", (int, float), "a number")
    field("top_p", (int, float), "a number")
    n = field("n", (int,), "a positive integer")
    if n is not None and n < 1:
        raise RequestRejected(400, f"{route.fields['n']} (n) must be ≥ 1, got {n}")
    stop = field("stop", (str, list), "a string or a list of strings")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    return CustomRequest(
        prompt=prompt,
        model=field("model", (str,), "a string"),
        max_tokens=field("max_tokens", (int,), "an integer"),
        n=n or 1,
        n_given=n is not None,
        stop=[s for s in stops if isinstance(s, str)],
    )


def custom_reply(route: CustomRoute, choices: Sequence[GeneratedChoice], *, many: bool) -> Any:
    """The reply body: the text(s), and the finish reason(s) when the route maps one."""
    text_path = route.fields["text"]
    finish_path = route.fields.get("finish_reason")
    if "*" in text_path.split("."):
        prefix, _, item_text = text_path.partition("*")
        prefix, item_text = prefix.rstrip("."), item_text.lstrip(".")
        items = []
        for choice in choices:
            item: dict[str, Any] = {}
            _put(item, item_text, choice.text)
            if finish_path and finish_path.startswith(prefix + ("." if prefix else "") + "*."):
                _put(item, finish_path.partition("*")[2].lstrip("."), choice.finish_reason)
            items.append(item)
        if not prefix:
            return items
        out: dict[str, Any] = {}
        _put(out, prefix, items)
        return out
    out = {}
    if many:
        _put(out, text_path, [c.text for c in choices])
        if finish_path:
            _put(out, finish_path, [c.finish_reason for c in choices])
    else:
        _put(out, text_path, choices[0].text)
        if finish_path:
            _put(out, finish_path, choices[0].finish_reason)
    return out
