"""The JSON-RPC envelope: its kinds, and how a broken one is answered (JSON-RPC 2.0, §5)."""

from __future__ import annotations

import pytest

from server.envelope import INVALID_REQUEST, Envelope, Kind, Rejected, read_envelope

V = {"jsonrpc": "2.0"}


@pytest.mark.parametrize(
    ("message", "envelope"),
    [
        ({**V, "id": 1, "method": "m", "params": {}}, Envelope(Kind.REQUEST, 1, "m")),
        ({**V, "id": "a", "method": "m"}, Envelope(Kind.REQUEST, "a", "m")),
        ({**V, "method": "m", "params": [1]}, Envelope(Kind.NOTIFICATION, None, "m")),
        ({**V, "id": 2, "result": None}, Envelope(Kind.RESPONSE, 2, None)),
        ({**V, "id": "b", "error": {"code": 1}}, Envelope(Kind.RESPONSE, "b", None)),
        # A nested object's "jsonrpc" or "id" is no business of the envelope's.
        ({**V, "id": 3, "method": "m", "params": {**V, "id": 4}}, Envelope(Kind.REQUEST, 3, "m")),
    ],
)
def test_valid_envelopes(message, envelope):
    assert read_envelope(message) == envelope


@pytest.mark.parametrize(
    ("message", "answer_id", "answered"),
    [
        ([{**V, "id": 1, "method": "m"}], None, True),  # a batch: LSP has none
        (None, None, True),
        ({**V, "id": 5}, 5, True),  # no method
        ({**V, "id": 6, "method": 6}, 6, True),
        ({"id": 7, "method": "m"}, 7, True),  # no "jsonrpc"
        ({"jsonrpc": "1.0", "id": 8, "method": "m"}, 8, True),
        ({**V, "id": True, "method": "m"}, None, True),  # LSP ids are integers or strings
        ({**V, "id": 1.5, "method": "m"}, None, True),
        ({**V, "id": None, "method": "m"}, None, True),
        ({**V, "id": {"x": 1}, "method": "m"}, None, True),
        ({**V, "method": 1, "params": "bar"}, None, True),  # JSON-RPC 2.0's own example
        ({**V}, None, True),
        ({**V, "id": [1], "result": 1}, None, False),  # responses are never answered
        ({"id": 9, "result": 1}, 9, False),  # no "jsonrpc": logged under its id
    ],
)
def test_broken_envelopes_are_invalid_requests(message, answer_id, answered):
    with pytest.raises(Rejected) as rejected:
        read_envelope(message)
    assert rejected.value.code == INVALID_REQUEST
    assert rejected.value.msg_id == answer_id and type(rejected.value.msg_id) is type(answer_id)
    assert rejected.value.answered is answered
