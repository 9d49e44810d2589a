"""Hypothesis strategies for hostile LSP traffic: each message with the answer it must get.

A ``Case`` is one message (a JSON value, or raw bytes) and what the server owes for it: an
answer under the message's own id, one under the id null, or none; and which codes that
answer may have (``RESULT`` for a result). Ids are placeholders until sent (``NewId``,
``SameId``), so every example gets ids never used before, and a message can reuse the id of
an earlier request of its batch: duplicate ids, nested twins, responses and cancellations
aimed at a pending request.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
REQUEST_CANCELLED = -32800
RESULT = None  # among a case's codes: a result, not an error
UINT_MAX = 2**31 - 1  # LSP's uinteger

HOSTILE_URIS = tuple(f"file:///w/hostile{i}.py" for i in range(3))


@dataclass(frozen=True)
class NewId:
    """An id never sent before: an integer, or a string."""

    text: bool = False


@dataclass(frozen=True)
class SameId:
    """The id of an earlier request of the batch (counted back), or a new one if none."""

    back: int = 0


class Answer(enum.Enum):
    OWN = "under its own id"
    NULL = "under the id null"
    NONE = "none"


@dataclass(frozen=True)
class Case:
    label: str
    body: Any  # a JSON value with NewId/SameId in it, or bytes sent as they are
    answer: Answer = Answer.OWN
    codes: frozenset[int | None] = frozenset({RESULT})


def request(label: str, method: str, params: Any, *codes: int | None, msg_id: Any = None) -> Case:
    message = {"jsonrpc": "2.0", "id": msg_id or NewId(), "method": method, "params": params}
    return Case(label, message, Answer.OWN, frozenset(codes or {RESULT}))


def notification(label: str, method: str, params: Any) -> Case:
    return Case(label, {"jsonrpc": "2.0", "method": method, "params": params}, Answer.NONE)


# -- values ------------------------------------------------------------------------------

ids = st.builds(NewId, st.booleans()) | st.builds(SameId, st.integers(0, 5))
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)


def _rpc_shaped(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict]:
    """An object that looks like a JSON-RPC message: it must stay data inside params."""
    return st.fixed_dictionaries(
        {"jsonrpc": st.sampled_from(["2.0", "x", 2])},
        optional={
            "id": ids | st.just("ghost") | leaves,
            "method": st.sampled_from(["textDocument/hover", "shutdown", "exit", "x/y"]),
            "params": children,
            "result": children,
        },
    )


plain_json = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
json_values = st.recursive(  # with JSON-RPC-shaped objects (and their ids) anywhere inside
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6), children, max_size=4)
        | _rpc_shaped(children)
    ),
    max_leaves=12,
)
uris = st.sampled_from([*HOSTILE_URIS, "file:///w/never-opened.py", "untitled:x", "not a uri", ""])
small_uints = st.integers(0, 4) | st.integers(0, UINT_MAX)
positions = st.fixed_dictionaries({"line": small_uints, "character": small_uints})
ranges = st.fixed_dictionaries({"start": positions, "end": positions})
huge_texts = st.builds(
    lambda line, copies: (line + "\n") * copies,
    st.text(st.characters(exclude_characters="\r\n"), min_size=1, max_size=60),
    st.sampled_from([2_000, 30_000]),
)
texts = st.text(max_size=200) | huge_texts


# -- requests that must get a result -----------------------------------------------------


def inline_params() -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "textDocument": st.fixed_dictionaries({"uri": uris}),
            "position": positions,
            "context": st.fixed_dictionaries({"triggerKind": st.sampled_from([1, 2])}),
        },
        optional={
            "formattingOptions": st.fixed_dictionaries(
                {"tabSize": st.integers(1, 8), "insertSpaces": st.booleans()}
            )
        },
    )


def code_action_params() -> st.SearchStrategy[dict]:
    diagnostic = st.fixed_dictionaries(
        {"range": ranges, "message": st.text(max_size=20)}, optional={"data": json_values}
    )
    context = st.fixed_dictionaries(
        {"diagnostics": st.lists(diagnostic, max_size=3)},
        optional={"only": st.lists(st.sampled_from(["", "refactor", "quickfix", "x"]))},
    )
    return st.fixed_dictionaries(
        {"textDocument": st.fixed_dictionaries({"uri": uris}), "range": ranges, "context": context}
    )


def status_params() -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {"command": st.just("evoselfcode.status")},
        optional={"arguments": st.lists(json_values, max_size=3)},
    )


answered_requests = st.one_of(
    st.builds(lambda p: request("status", "workspace/executeCommand", p), status_params()),
    st.builds(lambda p: request("codeAction", "textDocument/codeAction", p), code_action_params()),
    st.builds(
        lambda p: request("inline", "textDocument/inlineCompletion", p, RESULT, REQUEST_CANCELLED),
        inline_params(),
    ),
    st.builds(
        lambda p, same: request("duplicate id", "workspace/executeCommand", p, msg_id=same),
        status_params(),
        st.builds(SameId, st.integers(0, 5)),
    ),
)

# -- requests that must get an error -----------------------------------------------------

# A value of another JSON type than the field's, for each kind of field.
fractions = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
not_a_string = st.none() | st.booleans() | st.integers() | st.lists(leaves, min_size=1)
not_a_uint = (
    st.none()
    | st.booleans()
    | st.text()
    | fractions
    | st.integers(max_value=-1)
    | st.integers(min_value=UINT_MAX + 1)
)
not_an_object = st.none() | st.booleans() | st.integers() | st.text(min_size=1)
REQUIRED, OPTIONAL = True, False
# Per method: its params, and fields to give a wrong value (or leave out, if required).
WRONG_FIELDS = {
    "textDocument/inlineCompletion": (
        inline_params,
        [
            (("textDocument",), not_an_object, REQUIRED),
            (("textDocument", "uri"), not_a_string, REQUIRED),
            (("position",), not_an_object, REQUIRED),
            (("position", "line"), not_a_uint, REQUIRED),
            (("position", "character"), not_a_uint, REQUIRED),
            (("context",), not_an_object, REQUIRED),
            (("context", "triggerKind"), st.integers().filter(lambda k: k not in (1, 2)), REQUIRED),
        ],
    ),
    "textDocument/codeAction": (
        code_action_params,
        [
            (("textDocument", "uri"), not_a_string, REQUIRED),
            (("range",), not_an_object, REQUIRED),
            (("range", "end", "line"), not_a_uint, REQUIRED),
            (("context",), not_an_object, REQUIRED),
            (("context", "only"), st.lists(not_a_string, min_size=1), OPTIONAL),  # issue 19
        ],
    ),
}


@st.composite
def wrong_params(draw: st.DrawFn) -> Case:
    method = draw(st.sampled_from(sorted(WRONG_FIELDS)))
    make, fields = WRONG_FIELDS[method]
    params = draw(make())
    path, wrong, required = draw(st.sampled_from(fields))
    node = params
    for key in path[:-1]:
        node = node[key]
    if not required or draw(st.booleans()):
        node[path[-1]] = draw(wrong)
    else:
        node.pop(path[-1], None)  # a required field left out
    return request(f"{method} {'.'.join(path)}", method, params, INVALID_PARAMS)


failing_requests = st.one_of(
    wrong_params(),
    st.builds(
        lambda name, params: request("unknown method", name, params, METHOD_NOT_FOUND),
        st.sampled_from(["x/", "$/x", "evoselfcode/"]).flatmap(
            lambda prefix: st.text(max_size=8).map(lambda s: prefix + s)
        ),
        json_values,
    ),
    st.just(request("LSP method, bad params", "textDocument/hover", {}, INVALID_PARAMS)),
    st.just(
        request(
            "LSP method not served",
            "textDocument/hover",
            {"textDocument": {"uri": HOSTILE_URIS[0]}, "position": {"line": 0, "character": 0}},
            METHOD_NOT_FOUND,
        )
    ),
    st.builds(
        lambda args: request(
            "unknown command",
            "workspace/executeCommand",
            {"command": "evoselfcode.nothing", "arguments": args},
            INVALID_PARAMS,
        ),
        st.lists(json_values, max_size=2),
    ),
)

# -- broken envelopes and bodies that are no JSON -----------------------------------------


def _envelope(label: str, message: Any, answer: Answer) -> Case:
    return Case(label, message, answer, frozenset({INVALID_REQUEST}))


not_a_method = st.none() | st.booleans() | st.integers() | st.lists(leaves) | st.just({})
broken_envelopes = st.one_of(
    st.builds(
        lambda params: _envelope(
            "no method", {"jsonrpc": "2.0", "id": NewId(), "params": params}, Answer.OWN
        ),
        json_values,
    ),
    st.builds(
        lambda m: _envelope(
            "method not a string", {"jsonrpc": "2.0", "id": NewId(), "method": m}, Answer.OWN
        ),
        not_a_method,
    ),
    st.builds(
        lambda v: _envelope(
            "bad jsonrpc", {"jsonrpc": v, "id": NewId(), "method": "x/y"}, Answer.OWN
        ),
        st.sampled_from(["1.0", "2", 2, None]),
    ),
    st.builds(
        lambda i: _envelope(
            "id not usable", {"jsonrpc": "2.0", "id": i, "method": "x/y"}, Answer.NULL
        ),
        st.none() | st.booleans() | fractions | st.lists(leaves, max_size=2) | st.just({}),
    ),
    st.builds(
        lambda m: _envelope(
            "notification, bad method", {"jsonrpc": "2.0", "method": m}, Answer.NULL
        ),
        not_a_method,
    ),
    st.builds(lambda v: _envelope("not an object", v, Answer.NULL), leaves | st.lists(json_values)),
)


@st.composite
def unparsable(draw: st.DrawFn) -> Case:
    text = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "x/y", "params": draw(plain_json)})
    body = draw(
        st.one_of(
            st.integers(1, len(text) - 1).map(lambda cut: text[:cut].encode()),  # truncated
            st.just(text.encode().replace(b'"x/y"', b'"x/\xff"')),  # not UTF-8
            st.sampled_from([2_000, 100_000]).map(lambda depth: b"[" * depth + b"]" * depth),
        )
    )
    return Case("not JSON", body, Answer.NULL, frozenset({PARSE_ERROR}))


# -- notifications and responses: never answered -----------------------------------------

silent = st.one_of(
    st.builds(
        lambda uri, text, version: notification(
            "didOpen",
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": version,
                    "text": text,
                }
            },
        ),
        st.sampled_from(HOSTILE_URIS),
        texts,
        st.integers(0, UINT_MAX),
    ),
    st.builds(
        lambda uri, change: notification(
            "didChange",
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [change]},
        ),
        uris,
        st.fixed_dictionaries({"text": st.text(max_size=50)}, optional={"range": ranges}),
    ),
    st.builds(
        lambda uri: notification(
            "didClose", "textDocument/didClose", {"textDocument": {"uri": uri}}
        ),
        uris,
    ),
    st.builds(
        lambda p: notification("didOpen, bad params", "textDocument/didOpen", p), json_values
    ),
    st.builds(lambda p: notification("unknown notification", "x/note", p), json_values),
    st.builds(lambda i: notification("cancel", "$/cancelRequest", {"id": i}), ids),
    st.builds(
        lambda i, result: Case(
            "client response", {"jsonrpc": "2.0", "id": i, "result": result}, Answer.NONE
        ),
        ids,
        json_values,
    ),
)


def flood(case: st.SearchStrategy[Case]) -> st.SearchStrategy[list[Case]]:
    """The same message (with a new id each time), fifty times or more in a row."""
    return st.builds(lambda one, n: [one] * n, case, st.integers(50, 150))


small_changes = st.builds(
    lambda uri, text: notification(
        "didChange",
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": text}]},
    ),
    st.sampled_from(HOSTILE_URIS),
    st.text(max_size=20),
)


singles = st.one_of(answered_requests, failing_requests, broken_envelopes, unparsable(), silent)


@st.composite
def batches(draw: st.DrawFn) -> list[Case]:
    """Ten to sixty messages of every kind, and a flood somewhere among them."""
    cases = draw(st.lists(singles, min_size=10, max_size=60))
    at = draw(st.integers(0, len(cases)))
    cases[at:at] = draw(flood(answered_requests | failing_requests | small_changes))
    return cases
