"""Composed tasks: one or two primitive steps, described in plain words, split so that the
held-out tasks are new combinations.

The split is made on unordered pairs of primitive kinds: a pair whose two kinds are held out
together never appears in training, in either order and with any parameters; every kind of a
held-out pair does appear in training, in the same position (first or second step), in other
pairs. Training also holds each step alone. Compositions that behave like one of their steps
alone, or like no step at all, on the test inputs (``upper`` then ``lower``) are left out.

Everything is a function of ``seed``: the same seed gives the same tasks, ids and order.
Reference solutions are built from the primitives' templates and their expected outputs are
computed by running them here, in-process: this is the package's own code, never a model's.
"""

from __future__ import annotations

import copy
import functools
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evaluation.taskfamily.primitives import (
    ANNOTATION,
    MISTAKES,
    PRIMITIVES,
    TEST_INPUTS,
    VARIABLE,
    Primitive,
    Step,
    steps_of,
)
from evaluation.tasks import Task

Split = Literal["train", "heldout"]
DEFAULT_SEED = 0
DEFAULT_HELDOUT_SHARE = 0.3  # of the unordered kind pairs
TRAIN_VARIANTS = 2  # parameter choices per ordered kind pair in training
HELDOUT_VARIANTS = 2
_DOMAIN_NOUN = {"str": "text", "list": "values", "int": "number"}


class _Raised:
    """What a call that raised returns in ``behaviour``: equal to any other failure."""

    def __init__(self, exc: BaseException) -> None:
        self.kind = type(exc).__name__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Raised)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"<raised {self.kind}>"


@dataclass(frozen=True)
class FamilyTask:
    """One task: its steps, its HumanEval-shaped text and the outputs its tests expect."""

    task_id: str
    split: Split
    steps: tuple[Step, ...]
    entry_point: str
    outputs: tuple[Any, ...]

    @property
    def domain(self) -> str:
        return self.steps[0].primitive.domain

    @property
    def inputs(self) -> tuple[Any, ...]:
        return TEST_INPUTS[self.steps[0].primitive.domain]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(step.primitive.name for step in self.steps)

    @property
    def description(self) -> str:
        phrases = [step.phrase for step in self.steps]
        text = ", then ".join(phrases)
        return text[0].upper() + text[1:] + "."

    @property
    def prompt(self) -> str:
        """The signature and the docstring: what the model is asked to complete."""
        first, last = self.steps[0].primitive, self.steps[-1].primitive
        variable = VARIABLE[first.domain]
        signature = (
            f"def {self.entry_point}({variable}: {ANNOTATION[first.domain]}) "
            f"-> {ANNOTATION[last.result]}:"
        )
        return f'{signature}\n    """{self.description}"""\n'

    @property
    def body(self) -> str:
        """The reference solution's body (HumanEval's ``canonical_solution``)."""
        return self.body_with()

    @property
    def code(self) -> str:
        """The whole reference function."""
        return self.prompt + self.body

    @property
    def instruction(self) -> str:
        """The task as ``evoselfcode eval --prompt-format instruct`` words it to a model."""
        from evaluation.generation import INSTRUCTION

        return INSTRUCTION.format(prompt=self.prompt)

    @property
    def test(self) -> str:
        """HumanEval's ``check(candidate)``: one assert per test input."""
        lines = [
            f"    assert candidate({value!r}) == {expected!r}"
            for value, expected in zip(self.inputs, self.outputs, strict=True)
        ]
        return "def check(candidate):\n" + "\n".join(lines) + "\n"

    def body_with(self, mistake: str | None = None, at: int = 0) -> str:
        """The body, with step ``at`` made with ``mistake`` when one is given."""
        variable = VARIABLE[self.steps[0].primitive.domain]
        lines = []
        for index, step in enumerate(self.steps):
            expression = step.expression(variable, mistake if index == at else None)
            last = index == len(self.steps) - 1
            lines.append(f"    return {expression}" if last else f"    {variable} = {expression}")
        return "\n".join(lines) + "\n"

    def mistaken_code(self, mistake: str, at: int) -> str:
        """The whole function with one typical mistake in step ``at``."""
        return self.prompt + self.body_with(mistake, at)

    def mistakes(self) -> list[tuple[int, str]]:
        """The (step, mistake) choices whose function fails this task's tests."""
        found = []
        for at, step in enumerate(self.steps):
            for mistake in MISTAKES:
                if mistake in step.primitive.mistakes:
                    code = self.mistaken_code(mistake, at)
                    if behaviour(code, self.entry_point, self.inputs) != self.outputs:
                        found.append((at, mistake))
        return found

    def to_task(self, dataset: str) -> Task:
        return Task(
            task_id=self.task_id,
            prompt=self.prompt,
            entry_point=self.entry_point,
            test=self.test,
            canonical_solution=self.body,
            dataset=dataset,
        )

    def to_instruction_row(self) -> dict[str, str]:
        """The task as a line of an ``evoselfcode evolve --instructions`` file."""
        return {"id": self.task_id, "instruction": self.instruction}

    def to_row(self) -> dict[str, str]:
        """The task as a HumanEval JSONL row (``evoselfcode eval --dataset FILE.jsonl``)."""
        return {
            "task_id": self.task_id,
            "prompt": self.prompt,
            "canonical_solution": self.body,
            "test": self.test,
            "entry_point": self.entry_point,
        }


def raised(value: Any) -> bool:
    """Whether a value from ``behaviour`` stands for a call that raised."""
    return isinstance(value, _Raised)


def behaviour(code: str, name: str, inputs: Sequence[Any]) -> tuple[Any, ...]:
    """What ``code``'s function ``name`` returns (or that it raised) for each input.

    Only for this package's own template code: it runs in this process.
    """
    namespace: dict[str, Any] = {}
    exec(compile(code, f"<taskfamily {name}>", "exec"), namespace)
    function = namespace[name]
    results: list[Any] = []
    for value in inputs:
        try:
            results.append(function(copy.deepcopy(value)))
        except Exception as exc:  # a mistake may crash on an edge (max of an empty list)
            results.append(_Raised(exc))
    return tuple(results)


@dataclass(frozen=True)
class TaskFamily:
    """Both splits, and the kind pairs that were held out."""

    seed: int
    train: tuple[FamilyTask, ...]
    heldout: tuple[FamilyTask, ...]
    heldout_pairs: frozenset[frozenset[str]]

    def split(self, name: Split) -> tuple[FamilyTask, ...]:
        return self.train if name == "train" else self.heldout


@functools.lru_cache(maxsize=8)
def build_family(
    seed: int = DEFAULT_SEED, heldout_share: float = DEFAULT_HELDOUT_SHARE
) -> TaskFamily:
    """The whole family for ``seed`` (see the module docstring)."""
    if not 0 < heldout_share < 1:
        raise ValueError(f"heldout_share must be between 0 and 1, got {heldout_share}")
    rng = random.Random(f"taskfamily:{seed}")
    ordered = _ordered_pairs()
    unordered = sorted({tuple(sorted((a.name, b.name))) for a, b in ordered})
    rng.shuffle(unordered)
    count = round(len(unordered) * heldout_share)
    held = {frozenset(pair) for pair in unordered[:count]}
    held = _with_training_coverage(ordered, held)
    train_steps: list[tuple[Step, ...]] = [(s,) for p in PRIMITIVES for s in steps_of(p)]
    heldout_steps: list[tuple[Step, ...]] = []
    for a, b in ordered:
        is_held = frozenset((a.name, b.name)) in held
        wanted = HELDOUT_VARIANTS if is_held else TRAIN_VARIANTS
        (heldout_steps if is_held else train_steps).extend(_variants(a, b, wanted, rng))
    return TaskFamily(
        seed=seed,
        train=_numbered("train", train_steps, rng),
        heldout=_numbered("heldout", heldout_steps, rng),
        heldout_pairs=frozenset(held),
    )


def _ordered_pairs() -> list[tuple[Primitive, Primitive]]:
    return [
        (a, b)
        for a, b in itertools.permutations(PRIMITIVES, 2)
        if a.domain == b.domain and not a.reduces
    ]


def _with_training_coverage(
    ordered: list[tuple[Primitive, Primitive]], held: set[frozenset[str]]
) -> set[frozenset[str]]:
    """Give back to training each held-out pair whose kinds training lacks in their positions."""
    held = set(held)
    for a, b in ordered:  # a fixed order: the result depends on the seed only
        pair = frozenset((a.name, b.name))
        if pair not in held:
            continue
        training = [(x, y) for x, y in ordered if frozenset((x.name, y.name)) not in held]
        if not any(x is a for x, _ in training) or not any(y is b for _, y in training):
            held.discard(pair)
    return held


def _variants(
    a: Primitive, b: Primitive, wanted: int, rng: random.Random
) -> list[tuple[Step, ...]]:
    """Up to ``wanted`` parameter choices of (a, b) that are true compositions."""
    choices = list(itertools.product(steps_of(a), steps_of(b)))
    rng.shuffle(choices)
    kept: list[tuple[Step, ...]] = []
    for steps in choices:
        if len(kept) == wanted:
            break
        if not _degenerate(steps):
            kept.append(steps)
    return kept


def _degenerate(steps: tuple[Step, ...]) -> bool:
    """Whether the composition acts like one of its steps alone, or like the identity."""
    inputs = TEST_INPUTS[steps[0].primitive.domain]
    composed = _outputs(steps)
    if any(isinstance(value, _Raised) for value in composed):
        return True
    alone = [_outputs((step,)) for step in steps]
    return composed in alone or composed == tuple(inputs)


def _outputs(steps: tuple[Step, ...]) -> tuple[Any, ...]:
    probe = FamilyTask("probe", "train", steps, "probe", ())
    return behaviour(probe.code, "probe", probe.inputs)


def _numbered(
    split: Split, all_steps: list[tuple[Step, ...]], rng: random.Random
) -> tuple[FamilyTask, ...]:
    """Tasks in a seeded order (a ``--limit`` takes a mixed sample), with ids and names."""
    order = list(all_steps)
    rng.shuffle(order)
    tasks = []
    for index, steps in enumerate(order):
        name = _function_name(steps)
        outputs = _outputs(steps)
        tasks.append(FamilyTask(f"composed-{split}/{index}", split, steps, name, outputs))
    return tuple(tasks)


def _function_name(steps: tuple[Step, ...]) -> str:
    if len(steps) == 1:  # "sum" or "abs" alone would shadow the builtin the body calls
        return f"{steps[0].short}_{_DOMAIN_NOUN[steps[0].primitive.domain]}"
    return "_then_".join(step.short for step in steps)
