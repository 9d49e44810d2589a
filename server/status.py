"""The server's status: model state, completion counts and latency, as ``evoselfcode/status``.

``StatusBoard`` is the one place that knows what the status bar shows; ``snapshot()`` gives
the notification's params (the shape is in ARCHITECTURE.md, "LSP protocol"): the model's
state, completion counts and latency, how many client messages were rejected as invalid, and,
what became of the suggestions (``server/outcomes/``), and, once there are any, the
fine-tuning run's progress and the last evaluation. It is updated from
the event loop and the model threads, hence the lock.
"""

from __future__ import annotations

import statistics
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from server.reasons import EmptyReason

if TYPE_CHECKING:
    from evaluation.sandbox import Isolation

ModelState = Literal["loading", "ready", "failed"]
# What happened to prefetches (server/prefetch.py): scheduled; finished with a suggestion put
# in the cache; that suggestion served a request; stopped or dropped before finishing.
PrefetchEvent = Literal["started", "stored", "used", "cancelled"]
PREFETCH_EVENTS: tuple[PrefetchEvent, ...] = ("started", "stored", "used", "cancelled")
LATENCY_WINDOW = 500  # the percentiles cover the most recent requests


@dataclass(frozen=True)
class ModelDescription:
    """What the status bar says about the loaded (or loading) model."""

    model: str
    adapter: str | None = None
    device: str | None = None
    dtype: str | None = None
    backend: str | None = None
    random_weights: bool = False
    trained_here: bool = False


def percentile(values: list[float], share: float) -> float | None:
    """Linear-interpolated percentile (``share`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


class StatusBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state: ModelState = "loading"
        self.reason: str | None = None
        self.model = ModelDescription(model="")
        self.requests = 0
        self.served = 0
        self.cache_hits = 0
        self.empty: Counter[str] = Counter()
        self.generated = 0  # requests that ran the model
        self.time_boxed = 0  # of those, ended at a line end by the time box
        self.prefetch: Counter[str] = Counter()
        self._prompt_tokens = 0
        self._prefilled_tokens = 0  # prompt tokens not found in the KV cache
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.finetune: dict[str, Any] | None = None  # {state, step, total, loss, runId, ...}
        self.evaluation: dict[str, Any] | None = None  # {passAt1, modelVersion, dataset, ...}
        self.sandbox: dict[str, Any] | None = None  # {level, description, problems}
        self.rejected_messages = 0  # invalid JSON-RPC from the client (server/protocol.py)
        self.outcomes: dict[str, Any] | None = None  # server/outcomes/tracker.py's summary

    def set_outcomes(self, outcomes: dict[str, Any]) -> None:
        with self._lock:
            self.outcomes = outcomes

    def set_finetune(self, finetune: dict[str, Any] | None) -> None:
        with self._lock:
            self.finetune = finetune

    def set_evaluation(self, evaluation: dict[str, Any] | None) -> None:
        with self._lock:
            self.evaluation = evaluation

    def set_sandbox(self, sandbox: dict[str, Any] | None) -> None:
        with self._lock:
            self.sandbox = sandbox

    def set_model_state(
        self, state: ModelState, model: ModelDescription, reason: str | None = None
    ) -> None:
        with self._lock:
            self.state, self.model, self.reason = state, model, reason

    def record_request(self) -> None:
        with self._lock:
            self.requests += 1

    def record_served(self, latency_ms: float, *, cached: bool) -> None:
        with self._lock:
            self.served += 1
            self.cache_hits += cached
            self._latencies.append(latency_ms)

    def record_generation(
        self, prompt_tokens: int, cached_tokens: int, *, time_boxed: bool = False
    ) -> None:
        with self._lock:
            self.generated += 1
            self.time_boxed += time_boxed
            self._prompt_tokens += prompt_tokens
            self._prefilled_tokens += prompt_tokens - cached_tokens

    def record_prefetch(self, event: PrefetchEvent) -> None:
        with self._lock:
            self.prefetch[event] += 1

    def record_rejected(self) -> None:
        with self._lock:
            self.rejected_messages += 1

    def record_empty(self, reason: EmptyReason) -> None:
        with self._lock:
            self.empty[reason.value] += 1

    def latency_ms(self) -> dict[str, float | None]:
        with self._lock:
            values = list(self._latencies)
        p50, p95 = percentile(values, 0.50), percentile(values, 0.95)
        return {
            "p50": None if p50 is None else round(p50, 1),
            "p95": None if p95 is None else round(p95, 1),
        }

    def snapshot(self) -> dict[str, Any]:
        """The ``evoselfcode/status`` params."""
        latency = self.latency_ms()
        with self._lock:
            status: dict[str, Any] = {
                "state": self.state,
                "model": self.model.model,
                "adapter": self.model.adapter,
                "device": self.model.device,
                "dtype": self.model.dtype,
                "backend": self.model.backend,
                "randomWeights": self.model.random_weights,
                "trainedHere": self.model.trained_here,
                "completions": {
                    "requests": self.requests,
                    "served": self.served,
                    "empty": dict(self.empty),
                    "cacheHits": self.cache_hits,
                    "generated": self.generated,
                    "meanPromptTokens": _mean(self._prompt_tokens, self.generated),
                    "meanPrefilledTokens": _mean(self._prefilled_tokens, self.generated),
                    "timeBoxed": self.time_boxed,
                    "prefetch": {event: self.prefetch[event] for event in PREFETCH_EVENTS},
                },
                "latencyMs": latency,
                "rejectedMessages": self.rejected_messages,
            }
            if self.outcomes is not None:  # the server sets it at start
                status["completions"]["outcomes"] = dict(self.outcomes)
            if self.reason is not None:
                status["reason"] = self.reason
            if self.finetune is not None:
                status["finetune"] = dict(self.finetune)
            if self.evaluation is not None:
                status["evaluation"] = dict(self.evaluation)
            if self.sandbox is not None:
                status["sandbox"] = dict(self.sandbox)
        return status


def sandbox_status(isolation: Isolation | None, error: str | None = None) -> dict[str, Any]:
    """``evoselfcode/status``'s ``sandbox``: the isolation the sandbox got (its ``level``:
    "full", "partial", "guard-only"), or, when it could not start, "unavailable" and why."""
    if isolation is None:
        return {"level": "unavailable", "description": error or "", "problems": [error or ""]}
    return {
        "level": isolation.level,
        "description": isolation.describe(),
        "problems": list(isolation.problems),
    }


def _mean(total: int, count: int) -> float | None:
    return round(total / count, 1) if count else None
