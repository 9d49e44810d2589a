"""Mappings (parsed YAML) into frozen dataclasses, with errors that name the dotted key.

Each dataclass field may carry bounds in ``metadata``: ``minimum``/``maximum`` (inclusive),
``above`` (exclusive), ``nonempty`` (a list or string that must not be empty). Types come from
the annotations: ``bool``, ``int``, ``float`` (ints accepted), ``str``, ``list[str]``,
``dict[str, str]``, ``X | None``, ``Literal[...]``, ``list[Literal[...]]`` and nested
dataclasses. Unknown keys are refused with the closest known key as a hint.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, get_args, get_origin

from evolution.datagen.errors import ConfigError

T = TypeVar("T")
NoneType = type(None)


def build(cls: type[T], data: Any, where: str) -> T:
    """An instance of dataclass ``cls`` from ``data`` (None: all defaults)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'the file'} must be a mapping of keys, got {_show(data)}")
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in data:
        if key not in names:
            raise ConfigError(unknown_key_message(_join(where, str(key)), names))
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            values[f.name] = _convert(data[f.name], hints[f.name], _join(where, f.name), f.metadata)
    return cls(**values)


def unknown_key_message(dotted: str, known: list[str]) -> str:
    """``a.b.kye: unknown key; did you mean 'key'? (known keys: ...)``."""
    key = dotted.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{dotted}: unknown key{hint} (known keys: {', '.join(known)})"


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _convert(value: Any, kind: Any, where: str, meta: Mapping[str, Any]) -> Any:
    origin, args = get_origin(kind), get_args(kind)
    if dataclasses.is_dataclass(kind):
        return build(kind, value, where)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        if value is None and NoneType in args:
            return None
        [inner] = [a for a in args if a is not NoneType]
        return _convert(value, inner, where, meta)
    if origin is typing.Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{where} must be one of {choices}, got {_show(value)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {_show(value)}")
        if meta.get("nonempty") and not value:
            raise ConfigError(f"{where} must not be empty")
        return [_convert(item, args[0], f"{where}[{i}]", {}) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {_show(value)}")
        for key, item in value.items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise ConfigError(
                    f"{where} must map strings to strings, got {_show(key)}: {_show(item)}"
                )
        return dict(value)
    return _scalar(value, kind, where, meta)


def _scalar(value: Any, kind: Any, where: str, meta: Mapping[str, Any]) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {_show(value)}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {_show(value)}")
        if meta.get("nonempty") and not value:
            raise ConfigError(f"{where} must not be empty")
        return value
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where} must be an integer, got {_show(value)}")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ConfigError(f"{where} must be a number, got {_show(value)}")
        value = float(value)
    _check_bounds(value, where, meta)
    return value


def _check_bounds(value: float, where: str, meta: Mapping[str, Any]) -> None:
    low, high, above = meta.get("minimum"), meta.get("maximum"), meta.get("above")
    if low is not None and value < low:
        raise ConfigError(f"{where} must be ≥ {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{where} must be ≤ {high}, got {value!r}")
    if above is not None and value <= above:
        raise ConfigError(f"{where} must be > {above}, got {value!r}")


def _show(value: Any) -> str:
    """The value and its YAML-ish type, e.g. ``'hot' (a string)``."""
    kinds = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}
    kind = kinds.get(type(value))
    if kind is None:
        kind = {list: "a list", dict: "a mapping", NoneType: "null"}.get(type(value), "a value")
    return f"{value!r} ({kind})"
