"""What one self-evolution produced: the proposal, every gate's result, and how it was made.

``EvolveResult.to_json()`` is the ``evoselfcode.selfEvolve`` command's result (ARCHITECTURE.md)
without the ``edit``, which the language server builds from ``range`` and ``proposed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from evolution.evolve.gates import GatePolicy, GateResult
from evolution.evolve.instruction import Instruction
from evolution.evolve.locate import FunctionLocation

Status = Literal["accepted", "rejected", "error"]
STAGES = ("locate", "generate", "reply", "syntax", "execution", "verifier", "done")


@dataclass(frozen=True)
class ProgressEvent:
    """One step of the flow, for a progress bar: ``step`` of ``total`` with a message."""

    stage: str
    message: str
    step: int
    total: int = len(STAGES) - 1


@dataclass(frozen=True)
class ErrorInfo:
    """A failure that is not a gate's verdict: the network, a key, the sandbox."""

    role: str  # "generator", "verifier", "sandbox", "locate"
    kind: str  # the exception class, e.g. "EndpointUnreachable"
    message: str


@dataclass(frozen=True)
class ModelCall:
    """One request to the generator or verifier, for provenance."""

    model: str
    base_url: str
    prompt_hash: str
    sampling: dict[str, Any]
    finish_reason: str | None = None
    text: str = ""  # the raw reply (kept for debugging; not stored in training records)


@dataclass(frozen=True)
class EvolveResult:
    """The outcome of ``self_evolve``: accepted (every gate passed), rejected, or error."""

    id: str
    status: Status
    instruction: Instruction | None
    location: FunctionLocation | None
    reason: str
    gates: list[GateResult] = field(default_factory=list)
    proposed_function: str | None = None  # the new function at column 0
    tests: str | None = None
    context_text: str = ""  # the surrounding code the generator was shown
    error: ErrorInfo | None = None
    generator: ModelCall | None = None
    verifier: ModelCall | None = None
    verdict: str | None = None
    confidence: float | None = None
    path: str | None = None
    duration_s: float = 0.0
    gate_policy: GatePolicy = "all"  # the gates it had to pass (``gates.GATES_OF_POLICY``)

    @property
    def ok(self) -> bool:
        return self.status == "accepted"

    @property
    def rejected_by(self) -> str | None:
        return next((gate.name for gate in self.gates if not gate.passed), None)

    @property
    def function_name(self) -> str | None:
        if self.location is not None:
            return self.location.name
        reply = next((g for g in self.gates if g.name == "reply"), None)
        defined = reply.details.get("defines") if reply else None
        return defined[0] if defined else None

    @property
    def proposed(self) -> str | None:
        """The text that replaces ``location.range`` (re-indented, the document's line ends)."""
        if self.proposed_function is None:
            return None
        if self.location is None:
            return self.proposed_function
        return self.location.reindent(self.proposed_function)

    def matches(self, source: str) -> bool:
        """Whether ``source`` still holds the original function (else the edit is stale)."""
        return self.location is not None and self.location.matches(source)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, camelCase: what the editor shows (see the module docstring)."""
        location = self.location
        return {
            "id": self.id,
            "ok": self.ok,
            "status": self.status,
            "rejectedBy": self.rejected_by,
            "reason": self.reason,
            "error": asdict(self.error) if self.error else None,
            "gates": [
                {"name": g.name, "passed": g.passed, "reason": g.reason, "durationS": g.duration_s}
                for g in self.gates
            ],
            "instruction": self.instruction.text if self.instruction else None,
            "functionName": self.function_name,
            "className": location.class_name if location else None,
            "original": location.text if location else None,
            "proposed": self.proposed,
            "tests": self.tests,
            "range": location.range.to_lsp() if location else None,
            "locatedBy": location.located_by if location else None,
            "locateNote": location.note if location else None,
            "verdict": self.verdict,
            "confidence": self.confidence,
            "generatorModel": self.generator.model if self.generator else None,
            "verifierModel": self.verifier.model if self.verifier else None,
            "durationS": self.duration_s,
        }
