"""Can the new function stand in for the old one at every existing call site?

Compatible means every call that worked before still binds: the same positional parameters in
the same order and with the same names (callers may pass them by keyword), defaults kept where
there were defaults, new parameters only with defaults, ``*args``/``**kwargs`` kept, keyword-only
parameters still accepted by name, and ``async``, ``staticmethod``/``classmethod``/``property``
unchanged. The first rule broken is returned as a sentence; None means compatible.
"""

from __future__ import annotations

import ast

from evolution.codecheck import parse_or_none

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_KINDS = ("staticmethod", "classmethod", "property")


def find_function(code: str, name: str) -> FunctionNode | None:
    """The last top-level definition of ``name`` in ``code`` (None if absent or unparsable)."""
    tree = parse_or_none(code)
    if tree is None:
        return None
    found = [n for n in tree.body if isinstance(n, FunctionNode) and n.name == name]
    return found[-1] if found else None


def incompatibility(old: FunctionNode, new: FunctionNode, *, is_method: bool = False) -> str | None:
    """Why ``new`` cannot replace ``old`` for existing callers, or None when it can."""
    name = old.name
    if isinstance(old, ast.AsyncFunctionDef) != isinstance(new, ast.AsyncFunctionDef):
        was = "async" if isinstance(old, ast.AsyncFunctionDef) else "not async"
        return f"`{name}` was {was} and the new code changes that: its callers would break"
    if is_method and _kind(old) != _kind(new):
        return f"`{name}` was a {_kind(old)} and the new code makes it a {_kind(new)}"
    old_args, new_args = old.args, new.args
    old_positional = [*old_args.posonlyargs, *old_args.args]
    new_positional = [*new_args.posonlyargs, *new_args.args]
    old_defaults = _with_defaults(old_positional, old_args.defaults)
    new_defaults = _with_defaults(new_positional, new_args.defaults)
    skip_first = is_method and _kind(old) in ("method", "classmethod", "property")
    for index, param in enumerate(old_positional):
        if index >= len(new_positional):
            if new_args.vararg is None:
                return f"parameter `{param.arg}` of `{name}` is gone"
            continue
        replacement = new_positional[index]
        by_keyword = param not in old_args.posonlyargs and not (skip_first and index == 0)
        if by_keyword and replacement.arg != param.arg:
            return (
                f"parameter {index + 1} of `{name}` was `{param.arg}` and is now "
                f"`{replacement.arg}`: callers passing it by name would break"
            )
        if param.arg in old_defaults and replacement.arg not in new_defaults:
            return f"parameter `{param.arg}` of `{name}` lost its default value"
    for param in new_positional[len(old_positional) :]:
        if param.arg not in new_defaults and old_args.vararg is None:
            return f"new parameter `{param.arg}` of `{name}` needs a default value"
    if old_args.vararg is not None and new_args.vararg is None:
        return f"`{name}` no longer takes *{old_args.vararg.arg}"
    if old_args.kwarg is not None and new_args.kwarg is None:
        return f"`{name}` no longer takes **{old_args.kwarg.arg}"
    return _keyword_only_problem(old, new)


def _keyword_only_problem(old: FunctionNode, new: FunctionNode) -> str | None:
    name = old.name
    old_args, new_args = old.args, new.args
    new_by_name = {p.arg for p in [*new_args.args, *new_args.kwonlyargs]}
    new_keywords = zip(new_args.kwonlyargs, new_args.kw_defaults, strict=True)
    new_kw_defaults = {p.arg for p, d in new_keywords if d is not None} | _with_defaults(
        [*new_args.posonlyargs, *new_args.args], new_args.defaults
    )
    for param, default in zip(old_args.kwonlyargs, old_args.kw_defaults, strict=True):
        if param.arg not in new_by_name and new_args.kwarg is None:
            return f"keyword parameter `{param.arg}` of `{name}` is gone"
        if default is not None and param.arg in new_by_name and param.arg not in new_kw_defaults:
            return f"keyword parameter `{param.arg}` of `{name}` lost its default value"
    old_names = {p.arg for p in [*old_args.args, *old_args.kwonlyargs]}
    for param, default in zip(new_args.kwonlyargs, new_args.kw_defaults, strict=True):
        if default is None and param.arg not in old_names:
            return f"new keyword parameter `{param.arg}` of `{name}` needs a default value"
    return None


def _with_defaults(params: list[ast.arg], defaults: list[ast.expr]) -> set[str]:
    """Names of the positional parameters that have defaults (defaults align to the end)."""
    return {p.arg for p in params[len(params) - len(defaults) :]} if defaults else set()


def _kind(node: FunctionNode) -> str:
    for decorator in node.decorator_list:
        label = ast.unparse(decorator)
        if label in _KINDS:
            return label
    return "method"
