"""The test server's mutable state, shared by its request threads under one lock."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from evolution.testserver.faults import Effects, Fault, FaultPlan
from evolution.testserver.script import Rule, Script

_SECRET_HEADERS = ("authorization", "proxy-authorization")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased headers with credentials hidden: ``Bearer sk-...`` becomes ``Bearer ***``."""
    out = {}
    for name, value in headers.items():
        name = name.lower()
        if name in _SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} ***".strip()
        out[name] = value
    return out


@dataclass(frozen=True)
class RecordedRequest:
    """One API request as it arrived (control-API requests are not recorded)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names; Authorization's value redacted
    body: Any  # the parsed JSON, or the raw text when it was not JSON, or None
    received_at: float  # time.monotonic() on the server

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ServerState:
    """Script, faults, latency, recorded requests and the stop signal of one server."""

    def __init__(self, script: Script, *, latency: float, api_key: str | None, seed: int) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.api_key = api_key
        self._initial_script = _copy(script)
        self._initial_latency = latency
        self.script = _copy(script)
        self.latency = latency
        self.faults = FaultPlan(seed)
        self._rule_uses: dict[int, int] = {}
        self._requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)

    # --- used by the request threads ---

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self._requests.append(request)

    def draw_faults(self, path: str) -> Effects:
        with self.lock:
            return self.faults.draw(path)

    def choose_rule(self, path: str, model: str | None, prompt: str) -> Rule:
        with self.lock:
            return self.script.choose(path, model, prompt, self._rule_uses)

    def next_id(self, prefix: str) -> str:
        with self.lock:
            return f"{prefix}-{next(self._ids)}"

    def pause(self, seconds: float) -> bool:
        """Sleep ``seconds``; False when the server is stopping (the caller then drops)."""
        if seconds <= 0:
            return not self.stopping.is_set()
        return not self.stopping.wait(seconds)

    # --- used by tests and the control API ---

    def set_script(self, script: Script) -> None:
        with self.lock:
            self.script = _copy(script)  # add_rule must not change the caller's object
            self._rule_uses.clear()

    def add_rule(self, rule: Rule) -> None:
        with self.lock:
            self.script.rules.append(rule)

    def add_faults(self, faults: list[Fault]) -> None:
        with self.lock:
            for fault in faults:
                self.faults.add(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def fault_snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return self.faults.snapshot()

    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()

    def reset(self) -> None:
        """Back to the state at start: first script, first latency, no faults, no requests."""
        with self.lock:
            self.script = _copy(self._initial_script)
            self.latency = self._initial_latency
            self.faults.clear()
            self._rule_uses.clear()
            self._requests.clear()


def _copy(script: Script) -> Script:
    return Script.from_dict(script.to_dict())
