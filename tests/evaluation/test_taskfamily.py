"""The composed task family: held-out combinations are new, references pass, mistakes fail."""

from __future__ import annotations

import dataclasses
import json

import pytest

from evaluation.datasets import load_tasks
from evaluation.runner import evaluate_samples
from evaluation.samples import Sample
from evaluation.taskfamily import build_family, family_tasks


def pair(task) -> frozenset[str]:
    return frozenset(task.kinds)


def test_each_split_has_hundreds_of_distinct_tasks():
    family = build_family()
    assert len(family.train) >= 300 and len(family.heldout) >= 200
    everything = family.train + family.heldout
    assert len({t.task_id for t in everything}) == len(everything)
    assert len({t.instruction for t in everything}) == len(everything)  # no copies
    assert {t.domain for t in family.heldout} == {"str", "list", "int"}


def test_held_out_tasks_combine_steps_never_combined_in_training():
    family = build_family()
    trained_pairs = {pair(t) for t in family.train if len(t.steps) == 2}
    first_steps = {t.kinds[0] for t in family.train if len(t.steps) == 2}
    second_steps = {t.kinds[1] for t in family.train if len(t.steps) == 2}
    for task in family.heldout:
        assert len(task.steps) == 2
        assert pair(task) not in trained_pairs, task.task_id  # in neither order
        assert pair(task) in family.heldout_pairs
        # ... but each step was seen in training, in the same position
        assert task.kinds[0] in first_steps and task.kinds[1] in second_steps, task.task_id


def test_the_family_is_a_function_of_its_seed():
    again = build_family.__wrapped__(0)  # bypass the cache: really rebuilt
    first = build_family(0)
    assert [t.to_row() for t in again.heldout] == [t.to_row() for t in first.heldout]
    other = build_family(1)
    assert other.heldout_pairs != first.heldout_pairs


def test_reference_solutions_pass_their_tests_in_the_sandbox(sandbox):
    family = build_family()
    chosen = list(family.heldout) + list(family.train[::4])
    tasks = [t.to_task("composed") for t in chosen]
    samples = [Sample(t.task_id, t.body, i) for i, t in enumerate(chosen)]
    report = evaluate_samples(tasks, samples, sandbox=sandbox)
    failures = [(r.task_id, r.detail) for r in report.results if not r.passed]
    assert not failures
    assert report.summary.passed == len(chosen)


def test_typical_mistakes_fail_the_tests_in_the_sandbox(sandbox):
    family = build_family()
    chosen = [t for t in family.heldout[:60] if t.mistakes()]
    samples, tasks = [], []
    for task in chosen:
        for at, mistake in task.mistakes():
            # Each mistaken function is its own task id, so every one is scored.
            task_id = f"{task.task_id}#{at}:{mistake}"
            tasks.append(dataclasses.replace(task.to_task("composed"), task_id=task_id))
            samples.append(Sample(task_id, task.body_with(mistake, at), len(samples)))
    kinds = {s.task_id.rsplit(":", 1)[1] for s in samples}
    assert kinds == {"off_by_one", "edge_case", "wrong_op"}
    report = evaluate_samples(tasks, samples, sandbox=sandbox)
    assert not [r.task_id for r in report.results if r.passed]
    assert len(report.results) == len(samples) > 60


def test_the_splits_load_as_evaluation_datasets(tmp_path):
    heldout = load_tasks("composed-heldout")
    assert [t.task_id for t in heldout] == [t.task_id for t in build_family().heldout]
    assert {t.dataset for t in heldout} == {"composed-heldout"}
    assert load_tasks("composed-train", limit=5) == family_tasks("train", "composed-train")[:5]
    # The same tasks written as HumanEval JSONL read back unchanged.
    path = tmp_path / "heldout.jsonl"
    rows = [task.to_row() for task in build_family().heldout]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    from_file = load_tasks(str(path))
    assert [(t.prompt, t.test, t.canonical_solution) for t in from_file] == [
        (t.prompt, t.test, t.canonical_solution) for t in heldout
    ]


def test_the_instruction_is_what_instruct_evaluation_sends():
    from evaluation.generation import INSTRUCTION

    task = build_family().heldout[0]
    assert task.instruction == INSTRUCTION.format(prompt=task.prompt)
    assert task.to_instruction_row() == {"id": task.task_id, "instruction": task.instruction}
    assert task.description in task.prompt and task.prompt.startswith(f"def {task.entry_point}(")


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1])
def test_a_held_out_share_outside_zero_one_is_refused(share):
    with pytest.raises(ValueError, match="heldout_share"):
        build_family(0, share)
