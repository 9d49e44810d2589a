"""The self-evolve flow: locate a function, ask the generator, pass the gates, ask the verifier.

    from evolution.evolve import EvolveRequest, EvolveSettings, Position, self_evolve
    settings = EvolveSettings.from_endpoints("http://127.0.0.1:8000/v1")
    result = await self_evolve(EvolveRequest(source, Position(12, 4), path="app.py"), settings)
    if result.ok:                       # the user saw result.proposed and accepted it
        record_accepted(store, result)  # -> AddOutcome(recorded, record_id, duplicate_of)

Modules: ``locate`` (tree-sitter) and ``indentation`` (its fallback), ``context`` (what
surrounds the function), ``instruction``, ``prompts``, ``parse`` (the generator's reply),
``signature``, ``program`` (the sandboxed test program), ``gates``, ``verify``, ``flow``,
``record``, ``batch`` and ``batch_cli`` (``evoselfcode evolve``). Importing this package loads
neither httpx nor the sandbox.
"""

from evolution.evolve.errors import (
    EvolveError,
    FunctionNotFound,
    InstructionsError,
    InvalidSettings,
    NotAccepted,
)
from evolution.evolve.flow import EvolveRequest, self_evolve
from evolution.evolve.gates import GateResult
from evolution.evolve.instruction import Instruction, build_instruction
from evolution.evolve.locate import FunctionLocation, Position, Range, locate_function
from evolution.evolve.record import record_accepted
from evolution.evolve.result import ErrorInfo, EvolveResult, ModelCall, ProgressEvent
from evolution.evolve.settings import EvolveClients, EvolveSettings

__all__ = [
    "ErrorInfo",
    "EvolveClients",
    "EvolveError",
    "EvolveRequest",
    "EvolveResult",
    "EvolveSettings",
    "FunctionLocation",
    "FunctionNotFound",
    "GateResult",
    "Instruction",
    "InstructionsError",
    "InvalidSettings",
    "ModelCall",
    "NotAccepted",
    "Position",
    "ProgressEvent",
    "Range",
    "build_instruction",
    "locate_function",
    "record_accepted",
    "self_evolve",
]
