"""What the stand-in generator answers for one task, and what the stand-in verifier thinks of it.

Every choice is drawn from a generator seeded by (seed, task id), with all draws made up front
in a fixed order: a task's reply does not depend on which other tasks are asked, in what
order or how often, and changing one rate changes only the choices that rate governs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Literal

from evaluation.taskfamily import FamilyTask, behaviour, raised
from evolution.testserver.standin.rates import FaultRates

CodeKind = Literal["correct", "off_by_one", "edge_case", "wrong_op", "unparsable"]
TestsKind = Literal["correct", "wrong", "absent", "follow_bug"]
OWN_TESTS = 4  # asserts the stand-in writes (from the task's test inputs)
_P_YES_BOUNDS = (0.02, 0.98)


@dataclass(frozen=True)
class PlannedReply:
    """One task's reply: what kind of code and tests it holds, its text, the verifier's P(yes)."""

    task_id: str
    instruction: str
    entry_point: str
    code_kind: CodeKind
    tests_kind: TestsKind
    prose: bool
    p_yes: float
    code: str  # the function as the reply gives it
    text: str  # the whole reply

    @property
    def code_correct(self) -> bool:
        return self.code_kind == "correct"

    @property
    def verifier_answer(self) -> str:
        return "Yes" if self.p_yes >= 0.5 else "No"

    def verifier_logprobs(self) -> dict[str, float]:
        """The first answer token's candidates: P(yes) as the verifier gate reads it back."""
        return {"Yes": math.log(self.p_yes), "No": math.log(1.0 - self.p_yes)}


def plan_reply(task: FamilyTask, rates: FaultRates, seed: int) -> PlannedReply:
    """The stand-in's reply to ``task`` (see the module docstring)."""
    rng = random.Random(f"standin:{seed}:{task.task_id}")
    draws = {name: rng.random() for name in ("code", "mistake", "tests", "follow", "prose")}
    noise = rng.gauss(0.0, 1.0)
    breakage = rng.randrange(3)
    chosen_inputs = rng.sample(range(len(task.inputs)), min(OWN_TESTS, len(task.inputs)))
    wrong_assert = rng.randrange(len(chosen_inputs))

    code_kind: CodeKind = "correct"
    code = task.code
    if draws["code"] < rates.unparsable:
        code_kind, code = "unparsable", _broken(task.code, breakage)
    elif draws["code"] < rates.unparsable + rates.wrong_code:
        mistake = _pick_mistake(task, draws["mistake"])
        if mistake is not None:  # else no typical mistake fails this task's tests
            at, code_kind = mistake
            code = task.mistaken_code(code_kind, at)

    tests_kind: TestsKind = "correct"
    if draws["tests"] < rates.no_tests:
        tests_kind = "absent"
    elif draws["tests"] < rates.no_tests + rates.wrong_tests:
        tests_kind = "wrong"
    elif code_kind not in ("correct", "unparsable") and draws["follow"] < rates.tests_follow_bug:
        tests_kind = "follow_bug"
    tests = _tests(task, code, tests_kind, chosen_inputs, wrong_assert)

    prose = draws["prose"] < rates.prose
    correct = code_kind == "correct"
    mean = rates.verifier_yes_if_correct if correct else rates.verifier_yes_if_wrong
    low, high = _P_YES_BOUNDS
    p_yes = round(min(high, max(low, mean + rates.verifier_noise * noise)), 4)
    return PlannedReply(
        task_id=task.task_id,
        instruction=task.instruction,
        entry_point=task.entry_point,
        code_kind=code_kind,
        tests_kind=tests_kind,
        prose=prose,
        p_yes=p_yes,
        code=code,
        text=_layout(task, code, tests, prose),
    )


def _pick_mistake(task: FamilyTask, draw: float) -> tuple[int, Any] | None:
    """A kind of mistake uniformly among those the task's tests catch, then a step with it."""
    found = task.mistakes()
    if not found:
        return None
    kinds = sorted({kind for _, kind in found})
    kind = kinds[min(int(draw * len(kinds)), len(kinds) - 1)]
    steps = [at for at, k in found if k == kind]
    share = draw * len(kinds) - kinds.index(kind)  # the rest of the draw picks the step
    return steps[min(int(share * len(steps)), len(steps) - 1)], kind


def _broken(code: str, how: int) -> str:
    """The function with a syntax error: a lost colon, a lost bracket, or a bad indentation."""
    lines = code.splitlines()
    body = [i for i, line in enumerate(lines) if line.startswith("    ") and '"""' not in line]
    if how == 1 and body and lines[body[-1]].rstrip().endswith((")", "]")):
        lines[body[-1]] = lines[body[-1]].rstrip()[:-1]
    elif how == 2 and len(body) > 1:
        lines[body[-1]] = "  " + lines[body[-1]]  # unexpected indent
    else:
        lines[0] = lines[0].rstrip().removesuffix(":")
    return "\n".join(lines) + "\n"


def _tests(
    task: FamilyTask, code: str, kind: TestsKind, chosen: list[int], wrong_assert: int
) -> str | None:
    if kind == "absent":
        return None
    if kind == "follow_bug":
        got = behaviour(code, task.entry_point, task.inputs)
        # Asserts about what the wrong code returns; where it crashes, no assert is written.
        pairs = [(task.inputs[i], got[i]) for i in chosen if not raised(got[i])]
        if not pairs:
            pairs = [(task.inputs[i], task.outputs[i]) for i in chosen]
    else:
        pairs = [(task.inputs[i], task.outputs[i]) for i in chosen]
    if kind == "wrong":
        value, expected = pairs[wrong_assert]
        pairs[wrong_assert] = (value, _perturbed(expected))
    return "".join(f"assert {task.entry_point}({v!r}) == {e!r}\n" for v, e in pairs)


def _perturbed(value: Any) -> Any:
    """A plausible wrong expectation of the same type."""
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, 0]
    return value + 1


def _layout(task: FamilyTask, code: str, tests: str | None, prose: bool) -> str:
    """The reply as asked (two labelled blocks), or with prose around unlabelled blocks."""
    if not prose:
        text = f"```python\n# improved\n{code}```\n"
        return text + (f"\n```python\n# tests\n{tests}```\n" if tests else "")
    summary = task.description[0].lower() + task.description[1:]
    text = f"Here is a function that does it: {summary}\n\n```python\n{code}```\n"
    if tests:
        text += f"\nA few checks of it:\n\n```python\n{tests}```\n"
    return text + "\nEach step follows the task's wording, in the order given.\n"
