"""Evaluating samples and models end to end in the sandbox."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from evaluation.datasets import load_tasks
from evaluation.generation import GenerationSettings
from evaluation.runner import EvalProgress, evaluate_model, evaluate_samples
from evaluation.samples import Sample
from evaluation.sandbox import Outcome, Sandbox
from models import CancelToken, load_model


def _canonical(tasks: list) -> list[Sample]:
    return [Sample(t.task_id, t.canonical_solution, i + 1) for i, t in enumerate(tasks)]


def test_all_164_canonical_solutions_pass(sandbox: Sandbox) -> None:
    tasks = load_tasks("humaneval")
    report = evaluate_samples(tasks, _canonical(tasks), sandbox=sandbox)
    failures = [(r.task_id, r.detail) for r in report.results if not r.passed]
    assert failures == []
    assert report.summary.pass_at_k[1] == 1.0 and report.summary.tasks == 164
    strict = evaluate_samples(tasks, _canonical(tasks), sandbox=sandbox, strict_types=True)
    assert [r.task_id for r in strict.results if not r.passed] == []


def test_infill_canonical_lines_pass_and_match_exactly(sandbox: Sandbox) -> None:
    tasks = load_tasks("humaneval-infill", limit=150)
    report = evaluate_samples(tasks, _canonical(tasks), sandbox=sandbox)
    assert report.summary.pass_at_k[1] == 1.0
    assert report.summary.exact_match == 1.0
    wrong_line = [Sample(t.task_id, "    pass\n", 0) for t in tasks[:20]]
    broken = evaluate_samples(tasks[:20], wrong_line, sandbox=sandbox)
    assert broken.summary.exact_match == 0.0
    assert broken.summary.passed < 20


def test_mixed_samples_progress_and_order(sandbox: Sandbox) -> None:
    tasks = load_tasks("humaneval", limit=3)
    good = [t.canonical_solution or "" for t in tasks]
    samples = [
        Sample("HumanEval/2", "    return number % 1.0\n", 1),
        Sample("HumanEval/0", "    return True\n", 2),
        Sample("HumanEval/0", good[0], 3),
        Sample("HumanEval/1", "    return [\n", 4),
        Sample("HumanEval/1", "    import os\n    os._exit(0)\n", 5),
        Sample("HumanEval/2", "    return 1 / 0\n", 6),
        Sample("HumanEval/7", "    return []\n", 7),  # not among the 3 tasks
    ]
    updates: list[EvalProgress] = []
    report = evaluate_samples(tasks, samples, sandbox=sandbox, on_result=updates.append)
    assert [u.done for u in updates] == [1, 2, 3, 4, 5, 6]
    assert {u.total for u in updates} == {6}
    assert updates[-1].passed == 2 and updates[-1].pass_rate == pytest.approx(2 / 6)
    observed = [(r.task_id, r.sample_index, r.outcome, r.line) for r in report.results]
    assert observed == [
        ("HumanEval/0", 0, Outcome.FAILED, 2),
        ("HumanEval/0", 1, Outcome.PASSED, 3),
        ("HumanEval/1", 0, Outcome.SYNTAX_ERROR, 4),
        ("HumanEval/1", 1, Outcome.CRASHED, 5),
        ("HumanEval/2", 0, Outcome.PASSED, 1),
        ("HumanEval/2", 1, Outcome.ERROR, 6),
    ]
    assert report.results[-1].exc_type == "ZeroDivisionError"
    # Every task has two samples, so pass@2 is reported too.
    assert report.summary.pass_at_k == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3)}
    assert report.task_pass_rates() == {"HumanEval/0": 0.5, "HumanEval/1": 0.0, "HumanEval/2": 0.5}
    assert "1 sample(s) skipped: their tasks are not among the 3 evaluated" in report.problems


def test_cancel_stops_early_and_says_so(sandbox: Sandbox) -> None:
    tasks = load_tasks("humaneval", limit=1)
    slow = "    import time\n    time.sleep(0.4)\n    return True\n"
    samples = [Sample("HumanEval/0", slow, i) for i in range(12)]
    token = CancelToken()
    report = evaluate_samples(
        tasks, samples, sandbox=sandbox, on_result=lambda _: token.cancel(), cancel=token
    )
    assert report.cancelled
    assert 1 <= len(report.results) < 12
    assert sandbox.run("print('ok')").passed  # the shared pool is still usable


def test_generation_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="temperature above 0"):
        GenerationSettings(samples_per_task=5, temperature=0.0)
    with pytest.raises(ValueError):
        GenerationSettings(batch_size=0)


def test_smoke_model_plumbing(smoke_model_dir: Path, sandbox: Sandbox) -> None:
    """The smoke model has RANDOM WEIGHTS: its completions are junk; this checks the plumbing."""
    model = load_model(smoke_model_dir, device="cpu")
    tasks = load_tasks("humaneval", limit=2) + load_tasks("humaneval-infill", limit=2)
    updates: list[EvalProgress] = []
    report = evaluate_model(
        model,
        tasks,
        samples_per_task=2,
        temperature=0.8,
        max_new_tokens=24,
        batch_size=3,
        sandbox=sandbox,
        on_result=updates.append,
    )
    assert len(report.results) == 8 and len(updates) == 8
    assert [(r.task_id, r.sample_index) for r in report.results] == [
        (t.task_id, i) for t in tasks for i in range(2)
    ]
    assert set(report.summary.pass_at_k) == {1, 2}
    assert report.source["random_weights"] is True and report.source["kind"] == "model"
    assert all(r.exact_match is not None for r in report.results if "/L" in r.task_id)
    assert all(r.completion.count("\n") == 1 for r in report.results if "/L" in r.task_id)


def test_cancelling_generation(smoke_model_dir: Path, sandbox: Sandbox) -> None:
    model = load_model(smoke_model_dir, device="cpu")
    token = CancelToken()
    token.cancel()
    report = evaluate_model(model, load_tasks("humaneval", limit=4), cancel=token, sandbox=sandbox)
    assert report.cancelled and report.results == []


def test_remote_model_over_http_base_instruct_and_infill(test_server, sandbox: Sandbox) -> None:
    """A real OpenAI-compatible server on loopback answers with the canonical solutions,
    wrapped the way real models wrap them: the scores must be perfect."""
    tasks = load_tasks("humaneval", limit=3)
    infill = load_tasks("humaneval-infill", limit=3)
    for task in tasks:
        tail = re.escape(task.prompt[-80:])
        junk = '\n\nif __name__ == "__main__":\n    print(1)\n<|endoftext|>garbage'
        test_server.add_rule(
            path="/v1/completions",
            prompt=tail + r"\Z",
            text=(task.canonical_solution or "") + junk,
            honour_stop=False,
        )
        answer = f"Sure!\n```python\n{task.prompt}{task.canonical_solution}```\nIt works."
        # The chat turn may reach the server as a ChatML prompt or as chat messages.
        chat = r"(?s)Complete the following Python function.*def " + task.entry_point + r"\("
        test_server.add_rule(prompt=chat, text=answer)
    for task in infill:
        suffix_head = re.escape(task.suffix[:60])
        test_server.add_rule(
            path="/v1/completions",
            prompt=re.escape(task.prompt[-60:]) + r"<\|fim_suffix\|>" + suffix_head,
            text=(task.canonical_solution or "") + "    more junk\n",
            honour_stop=False,
        )
    for name in ("qwen2.5-coder-base", "qwen2.5-coder-instruct"):
        model = load_model(name, backend="remote", remote_base_url=test_server.base_url)
        report = evaluate_model(model, tasks, sandbox=sandbox)
        assert report.summary.pass_at_k[1] == 1.0, [r.detail for r in report.results]
        assert report.source["backend"] == "remote"
    fim = evaluate_model(model, infill, sandbox=sandbox)
    assert fim.summary.pass_at_k[1] == 1.0 and fim.summary.exact_match == 1.0


def test_on_result_runs_in_the_calling_thread(sandbox: Sandbox) -> None:
    tasks = load_tasks("humaneval", limit=2)
    threads = set()
    evaluate_samples(
        tasks,
        _canonical(tasks),
        sandbox=sandbox,
        on_result=lambda _: threads.add(threading.get_ident()),
    )
    assert threads == {threading.get_ident()}
