"""A local OpenAI-compatible test server: scripted answers, fault injection, recorded requests.

Used by the tests (fixture ``test_server``), the benchmarks and the demo; ``evoselfcode
testserver`` runs it from the shell. See ``server`` for the Python API, ``script`` for the
script format, ``faults`` for fault injection and ``control`` for the HTTP control API.
"""

from evolution.testserver.errors import FaultSpecError, ScriptedServerError, ScriptError
from evolution.testserver.faults import FAULT_KINDS, Fault
from evolution.testserver.script import DEFAULT_TEXT, CustomRoute, Rule, Script
from evolution.testserver.server import ScriptedServer
from evolution.testserver.state import RecordedRequest
from evolution.testserver.tokens import default_logprob, tokenize

__all__ = [
    "DEFAULT_TEXT",
    "FAULT_KINDS",
    "CustomRoute",
    "Fault",
    "FaultSpecError",
    "RecordedRequest",
    "Rule",
    "Script",
    "ScriptError",
    "ScriptedServer",
    "ScriptedServerError",
    "default_logprob",
    "tokenize",
]
