"""A stand-in for the 32B generator and the 14B verifier, served by the scripted test server.

    from evaluation.taskfamily import build_family
    from evolution.testserver import ScriptedServer
    from evolution.testserver.standin import FaultRates, build_standin

    standin = build_standin(build_family().train, FaultRates(wrong_code=0.3), seed=0)
    with ScriptedServer(standin.script) as server:
        ...   # evoselfcode evolve --generator-url server.base_url over the tasks' instructions
    standin.counts()   # how many replies of each kind were planned

For each task of the composed family (``evaluation.taskfamily``), the generator answers the
task's instruction from the reference solution, but at the stated rates (``FaultRates``) with
code that parses yet is wrong (an off-by-one, a missed edge case or the wrong operation, each
checked to fail the task's own tests), code that does not parse, prose around the code, and
tests of its own that are wrong, absent or written for its own mistake. The verifier answers
Yes or No with first-token logprobs whose P(yes) is drawn around one mean for correct code and
a lower one for wrong code: informative, but noisy. Everything is seeded (``replies``).

The requests are told apart by the instruction they quote: the generator's prompt holds it,
and the verifier's holds it and the verifier's question. Both go through the real
OpenAI-compatible routes, so the real clients, gates and verifier scoring run on them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from evaluation.taskfamily import FamilyTask
from evolution.testserver.script import Rule, Script
from evolution.testserver.standin.rates import FaultRates, FaultRatesError
from evolution.testserver.standin.replies import PlannedReply, plan_reply


@dataclass(frozen=True)
class StandIn:
    """The script to serve, and the reply planned for each task."""

    script: Script
    replies: tuple[PlannedReply, ...]
    rates: FaultRates
    seed: int

    def counts(self) -> dict[str, dict[str, int]]:
        """How many replies of each code kind and tests kind, with prose, judged Yes."""
        return {
            "code": dict(Counter(r.code_kind for r in self.replies)),
            "tests": dict(Counter(r.tests_kind for r in self.replies)),
            "prose": {"with": sum(r.prose for r in self.replies)},
            "verifier": {
                "yes_correct": sum(
                    r.verifier_answer == "Yes" and r.code_correct for r in self.replies
                ),
                "yes_wrong": sum(
                    r.verifier_answer == "Yes" and not r.code_correct for r in self.replies
                ),
            },
        }


def build_standin(tasks: Iterable[FamilyTask], rates: FaultRates, seed: int = 0) -> StandIn:
    """Plan a reply for every task and script the server with them."""
    from evolution.evolve.prompts import VERIFIER_QUESTION
    from evolution.evolve.settings import DEFAULT_GENERATOR_MODEL, DEFAULT_VERIFIER_MODEL

    replies = tuple(plan_reply(task, rates, seed) for task in tasks)
    question = re.escape(VERIFIER_QUESTION)
    # Verifier rules come first: the verifier's prompt quotes the instruction too.
    verifier = [
        Rule(
            prompt=f"{re.escape(r.instruction)}(?s:.*){question}",
            text=r.verifier_answer,
            logprobs=[r.verifier_logprobs()],
            where=f"verifier {r.task_id}",
        )
        for r in replies
    ]
    generator = [
        Rule(prompt=re.escape(r.instruction), text=r.text, where=f"generator {r.task_id}")
        for r in replies
    ]
    script = Script(
        rules=[*verifier, *generator],
        models=[DEFAULT_GENERATOR_MODEL, DEFAULT_VERIFIER_MODEL],
    )
    return StandIn(script, replies, rates, seed)


__all__ = [
    "FaultRates",
    "FaultRatesError",
    "PlannedReply",
    "StandIn",
    "build_standin",
    "plan_reply",
]
