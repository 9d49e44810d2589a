"""The cattrs converter that turns a message's JSON into LSP params: strict, and Copilot-aware.

cattrs converts primitives the way Python's constructors do: a ``str`` field takes ``5`` as
``"5"`` and ``null`` as ``"None"``, an ``int`` field takes ``"7"`` and ``true``, a ``bool``
field takes ``"false"`` as true. lsprotocol's hooks for "a kind or any string" unions
(``CodeActionContext.only``, ``TextDocumentItem.languageId``, ...) let through any number or
boolean too, so ``context.only: [42]`` reached the code-action handler and failed there with a
TypeError (an Internal Error). JSON has exact types and LSP names them: here a value of the
wrong type fails structuring, which the protocol answers with ``InvalidParams``.

The inline-completion params also keep ``formattingOptions`` when a client sends them
(Copilot's language-server protocol does; LSP 3.18 has no field for it), so suggestions can
follow the editor's tabs-or-spaces setting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import cattrs
from cattrs import Converter
from cattrs.v import format_exception
from lsprotocol import types
from pygls.protocol import default_converter

from server.envelope import json_type

# The "kind or any string" unions lsprotocol registers lax hooks for.
STRING_KINDS = (
    types.CodeActionKind,
    types.LanguageKind,
    types.PositionEncodingKind,
    types.FoldingRangeKind,
    types.SemanticTokenTypes,
    types.SemanticTokenModifiers,
)


@attrs.define
class InlineCompletionParamsWithFormatting(types.InlineCompletionParams):
    formatting_options: types.FormattingOptions | None = None


class WrongJsonType(TypeError):
    """A value of another JSON type than its field's."""


def problems(exc: BaseException) -> list[str]:
    """What is wrong with the structured value, one line per problem, each with its path."""
    return cattrs.transform_error(exc, format_exception=_describe)


def _describe(exc: BaseException, target: Any) -> str:
    # Ours and the validators' (an LSP uinteger out of range, an unknown enum member) say
    # more than cattrs's "invalid value for type".
    if isinstance(exc, (WrongJsonType, ValueError)):
        return str(exc)[:200]
    return format_exception(exc, target)


def exactly(expected: str, *json_types: type) -> Callable[[Any, type], Any]:
    """A structure hook that takes only values of these JSON types.

    Registered for a primitive, cattrs also uses it for the enums built on it (``IntEnum``,
    ``(str, Enum)``): the target's constructor makes the value, so an unknown member fails.
    A union (a kind or any string) keeps the value as it is.
    """

    def structure(value: Any, target: Any) -> Any:
        # bool is an int to Python, not to JSON
        if isinstance(value, bool) != (bool in json_types) or not isinstance(value, json_types):
            raise WrongJsonType(f"expected {expected}, got {json_type(value)}")
        return target(value) if isinstance(target, type) else value

    return structure


def _optional(hook: Callable[[Any, type], Any]) -> Callable[[Any, type], Any]:
    return lambda value, target: None if value is None else hook(value, target)


def converter_factory() -> Converter:
    converter = default_converter()
    # Before any class hook is made below: cattrs builds a class's hook from the field hooks
    # registered at that moment.
    string = exactly("a string", str)
    converter.register_structure_hook(str, string)
    converter.register_structure_hook(int, exactly("an integer", int))
    converter.register_structure_hook(float, exactly("a number", int, float))
    converter.register_structure_hook(bool, exactly("true or false", bool))
    for kind in STRING_KINDS:
        # A known kind stays a plain string, as lsprotocol's own hook leaves it.
        converter.register_structure_hook(kind | str, string)
        converter.register_structure_hook(kind | str | None, _optional(string))
    # Fetch the subclass hook first: registering the base hook before would make the
    # subclass dispatch to it and recurse.
    hook = converter.get_structure_hook(InlineCompletionParamsWithFormatting)
    converter.register_structure_hook(
        types.InlineCompletionParams,
        lambda obj, _: hook(obj, InlineCompletionParamsWithFormatting),
    )
    return converter
