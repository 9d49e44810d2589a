"""A family of small, composed Python tasks with a training and a held-out split.

    from evaluation.taskfamily import build_family, family_tasks
    family = build_family(seed=0)        # .train, .heldout: FamilyTask (steps, prompt, code, ...)
    family_tasks("heldout")              # the held-out split as evaluation Tasks

Functions of one or two steps (``primitives``) over text, lists of integers or integers,
described in plain words, each with a reference solution and tests; the held-out tasks are
combinations of steps whose pair never appears in training (``family``). ``load_tasks``
knows the splits as the datasets ``composed-train`` and ``composed-heldout``.
"""

from __future__ import annotations

from evaluation.taskfamily.family import (
    DEFAULT_SEED,
    FamilyTask,
    Split,
    TaskFamily,
    behaviour,
    build_family,
    raised,
)
from evaluation.taskfamily.primitives import MISTAKES, PRIMITIVES, Primitive, Step
from evaluation.tasks import Task


def family_tasks(split: Split, dataset: str, seed: int = DEFAULT_SEED) -> list[Task]:
    """One split of the family as evaluation tasks of the dataset named ``dataset``."""
    return [task.to_task(dataset) for task in build_family(seed).split(split)]


__all__ = [
    "DEFAULT_SEED",
    "MISTAKES",
    "PRIMITIVES",
    "FamilyTask",
    "Primitive",
    "Split",
    "Step",
    "TaskFamily",
    "behaviour",
    "build_family",
    "family_tasks",
    "raised",
]
