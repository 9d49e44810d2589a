"""Property test: the real server over stdio under generated hostile traffic (issue 19).

Hypothesis draws batches of messages (``tests/server/hostile.py``): JSON-RPC-shaped objects
nested in params, values of the wrong type, unknown methods, duplicate ids, positions outside
the document, documents of megabytes, floods, broken envelopes, bodies that are no JSON,
notifications, cancellations and stray responses. One ``evoselfcode serve`` (the endless
smoke model, RANDOM WEIGHTS) takes every example; after each batch a completion on a fresh
document must be served. Asserted: every request gets exactly one answer, with an allowed
code; a message owed no answer gets none; no answer comes for an id never sent at the top
level; the server's memory stays bounded; after ``shutdown`` and ``exit`` it exits with 0 and
has logged no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.server.hostile import RESULT, Answer, Case, NewId, SameId, batches
from tests.server.rawlsp import RawClient

MAX_EXAMPLES = 50
BATCH_TIMEOUT_S = 120  # for the batch's last request (its answer comes after the others')
GRACE_S = 15  # for answers that come after it (completions run on the model thread)
RSS_GROWTH_LIMIT_MB = 300  # documents of up to ~2 MB on three URIs, a model, torch's caches
PROBE_URI = "file:///w/probe.py"


def key(msg_id: Any) -> str:
    """An id as JSON: 1 and "1" (and true) are different ids."""
    return json.dumps(msg_id)


def code_of(response: dict) -> int | None:
    return response["error"]["code"] if "error" in response else RESULT


def matches(codes: list[int | None], allowed: list[frozenset[int | None]]) -> bool:
    """Whether each answer's code is allowed by a different one of the requests."""
    left = sorted(allowed, key=len)
    for code in codes:
        fit = next((i for i, options in enumerate(left) if code in options), None)
        if fit is None:
            return False
        left.pop(fit)
    return not left


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` (ps: Linux and macOS)."""
    kilobytes = subprocess.run(
        ["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True, check=True
    ).stdout
    return int(kilobytes) / 1024


class Ledger:
    """What the server owes, by id and for the id null, and what it answered."""

    def __init__(self, client: RawClient):
        self.client = client
        self.owed: dict[str, list[frozenset[int | None]]] = defaultdict(list)
        self.owed_null: list[frozenset[int | None]] = []
        self.answered: Counter[str] = Counter()
        self._read = len(client.received)  # responses counted so far
        self._ids = itertools.count(1_000_000)  # above RawClient's own request ids
        self.messages = 0

    def materialize(self, value: Any, batch_ids: list[Any]) -> Any:
        if isinstance(value, NewId):
            number = next(self._ids)
            return f"s{number}" if value.text else number
        if isinstance(value, SameId):
            if not batch_ids:
                return self.materialize(NewId(), batch_ids)
            return batch_ids[-1 - value.back % len(batch_ids)]
        if isinstance(value, dict):
            return {k: self.materialize(v, batch_ids) for k, v in value.items()}
        if isinstance(value, list):
            return [self.materialize(v, batch_ids) for v in value]
        return value

    def send(self, case: Case, batch_ids: list[Any]) -> Any:
        """Send one case; the id it must be answered under, if any."""
        self.messages += 1
        if isinstance(case.body, bytes):
            self.client.send_bytes(case.body)
            message = None
        else:
            message = self.materialize(case.body, batch_ids)
            self.client.send_bytes(json.dumps(message).encode())
        if case.answer is Answer.NULL:
            self.owed_null.append(case.codes)
        if case.answer is not Answer.OWN:
            return None
        assert isinstance(message, dict)
        msg_id = message["id"]
        batch_ids.append(msg_id)
        self.owed[key(msg_id)].append(case.codes)
        return msg_id

    def count(self, msg_id: Any) -> int:
        """Answers received so far under ``msg_id`` (None: the id null)."""
        for response in self.client.received[self._read :]:
            self.answered[key(response["id"])] += 1
        self._read = len(self.client.received)
        return self.answered[key(msg_id)]


async def start_server(model_dir: Path, data_dir: Path) -> RawClient:
    client = await RawClient.start()
    await client.initialize(
        {
            "model": str(model_dir),
            "device": "cpu",
            "dataDir": str(data_dir),
            "completion": {"debounceMs": 0, "maxTokens": 4},
        }
    )

    async def ready() -> None:
        while True:
            status = await client.request(
                "workspace/executeCommand", {"command": "evoselfcode.status"}
            )
            if status["result"]["state"] == "ready":
                return
            assert status["result"]["state"] == "loading", status
            await asyncio.sleep(0.1)

    await asyncio.wait_for(ready(), 120)
    return client


async def exchange(ledger: Ledger, cases: list[Case], number: int) -> None:
    """Send a batch, a probe completion and a status request; check what came back."""
    client = ledger.client
    nulls_before, nulls_owed_before = ledger.count(None), len(ledger.owed_null)
    batch_ids: list[Any] = []
    for case in cases:
        ledger.send(case, batch_ids)
    probe_id = send_probe(ledger, batch_ids, number)
    status = {"command": "evoselfcode.status"}
    last = ledger.send(Case("last", _request("workspace/executeCommand", status)), batch_ids)
    await client.read_until(lambda: ledger.count(last) > 0, BATCH_TIMEOUT_S)

    def all_answered() -> bool:
        nulls_owed = len(ledger.owed_null) - nulls_owed_before
        return ledger.count(None) - nulls_before >= nulls_owed and all(
            ledger.count(i) >= len(ledger.owed[key(i)]) for i in batch_ids
        )

    with contextlib.suppress(asyncio.TimeoutError):  # the checks below say what is missing
        await client.read_until(all_answered, GRACE_S)

    for msg_id in dict.fromkeys(map(key, batch_ids)):
        codes = [code_of(a) for a in client.answers(json.loads(msg_id))]
        owed = ledger.owed[msg_id]
        assert matches(codes, owed), f"request {msg_id}: answered {codes}, owed {owed}"
    nulls = [code_of(a) for a in client.answers(None)[nulls_before:]]
    owed = ledger.owed_null[nulls_owed_before:]
    assert matches(nulls, owed), f"id null: answered {nulls}, owed {owed}"
    items = client.answers(probe_id)[0]["result"]["items"]
    assert len(items) == 1, "the probe completion was not served"


def send_probe(ledger: Ledger, batch_ids: list[Any], number: int) -> Any:
    """A completion at the end of a comment in a fresh document: served, unless broken."""
    text = f"# probe {number}\n"
    document = {"uri": PROBE_URI, "languageId": "python", "version": number, "text": text}
    ledger.client.notify("textDocument/didOpen", {"textDocument": document})
    probe = {
        "textDocument": {"uri": PROBE_URI},
        "position": {"line": 0, "character": len(text) - 1},
        "context": {"triggerKind": 1},
    }
    return ledger.send(Case("probe", _request("textDocument/inlineCompletion", probe)), batch_ids)


def check_every_answer(ledger: Ledger, last_id: Any) -> None:
    """Over the whole run, late answers included: exactly as many answers per id as requests
    sent with it (``last_id``: the one request sent since), none for ids never sent."""
    ledger.count(None)  # counts whatever came since the batches
    owed = {msg_id: len(codes) for msg_id, codes in ledger.owed.items()}
    owed[key(None)] = len(ledger.owed_null)
    owed[key(last_id)] = 1
    wrong = {
        msg_id: (ledger.answered[msg_id], owed.get(msg_id, 0))
        for msg_id in {*ledger.answered, *owed}
        if ledger.answered[msg_id] != owed.get(msg_id, 0)
    }
    assert not wrong, f"id: (answers, requests) {wrong}"


def _request(method: str, params: Any) -> dict:
    return {"jsonrpc": "2.0", "id": NewId(text=True), "method": method, "params": params}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_request_gets_exactly_one_answer_under_hostile_traffic(endless_model_dir, tmp_path):
    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(start_server(endless_model_dir, tmp_path / "data"))
    ledger = Ledger(client)
    pid = client.process.pid
    examples = itertools.count(1)
    rss: list[float] = []
    try:

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,  # the same batches every run: CI time is known
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(cases=batches())
        def one_batch(cases: list[Case]) -> None:
            loop.run_until_complete(exchange(ledger, cases, next(examples)))
            rss.append(rss_mb(pid))

        one_batch()

        status = loop.run_until_complete(
            client.request("workspace/executeCommand", {"command": "evoselfcode.status"})
        )
        check_every_answer(ledger, status["id"])
        assert max(rss) - rss[0] < RSS_GROWTH_LIMIT_MB, rss
        print(
            f"\nhostile traffic: {ledger.messages} messages in {next(examples) - 1} batches, "
            f"{status['result']['rejectedMessages']} rejected; "
            f"server RSS {rss[0]:.0f} -> {max(rss):.0f} MB"
        )

        shutdown = loop.run_until_complete(client.request("shutdown"))
        assert shutdown["result"] is None
        client.notify("exit")
        assert loop.run_until_complete(asyncio.wait_for(client.process.wait(), 30)) == 0
        assert "Traceback" not in client.stderr_text(tail=None)
    finally:
        loop.run_until_complete(client.close())
        loop.close()
