"""Turn an accepted evolution into a training pair in the store (only when the user accepts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolution.evolve.errors import NotAccepted
from evolution.evolve.result import EvolveResult
from evolution.store import Provenance, RecordContext, RecordDraft

if TYPE_CHECKING:
    from evolution.store import AddOutcome, TrainingStore
    from evolution.store.records import Source


def record_accepted(
    store: TrainingStore,
    result: EvolveResult,
    *,
    source: Source = "editor",
    task_id: str | None = None,
) -> AddOutcome:
    """Store ``result`` as an (instruction, code) pair; the outcome says if it was a duplicate.

    Raises ``NotAccepted`` for a result that did not pass every gate of its policy
    (``result.gate_policy``, which the record keeps in its provenance).
    """
    if not result.ok or result.proposed_function is None or result.instruction is None:
        raise NotAccepted(
            f"evolution {result.id} was not accepted by the gates ({result.reason}): "
            "only verified code becomes training data"
        )
    location = result.location
    context = RecordContext(
        path=result.path,
        function_name=result.function_name,
        class_name=location.class_name if location else None,
        original_code=location.code if location else None,
        surrounding=result.context_text or None,
    )
    calls = {"generator": result.generator, "verifier": result.verifier}
    provenance = Provenance(
        generator_model=result.generator.model if result.generator else None,
        verifier_model=result.verifier.model if result.verifier else None,
        prompt_hashes={role: call.prompt_hash for role, call in calls.items() if call},
        sampling={role: dict(call.sampling) for role, call in calls.items() if call},
        gates=[gate.to_dict() for gate in result.gates],
        verdict=result.verdict,
        confidence=result.confidence,
        task_id=task_id,
        gate_policy=result.gate_policy,
    )
    draft = RecordDraft(
        instruct=result.instruction.text,
        code=result.proposed_function,
        source=source,
        context=context,
        provenance=provenance,
    )
    return store.add(draft)
