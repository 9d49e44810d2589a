"""The model thread: newest request wins, cancellation reaches a running job, tasks survive."""

from __future__ import annotations

import threading

import pytest

from server.reasons import EmptyReason
from server.scheduler import JobDropped, ModelWorker


def spin_until_cancelled(started: threading.Event, steps: list[int]):
    """A stand-in for generation: one 'token' per millisecond until cancelled."""

    def run(token):
        started.set()
        for step in range(100_000):
            if token.cancelled:
                steps.append(step)
                return "stopped"
            token.wait(0.001)
        return "finished"

    return run


@pytest.fixture
def worker():
    worker = ModelWorker("test-model")
    yield worker
    worker.stop()


def test_a_newer_request_for_the_same_document_stops_the_running_one(worker):
    started, steps = threading.Event(), []
    old = worker.submit_completion("file:///a.py", spin_until_cancelled(started, steps))
    assert started.wait(5)
    new = worker.submit_completion("file:///a.py", lambda token: "new")
    assert old.future.result(timeout=5) == "stopped"
    assert old.reason == EmptyReason.SUPERSEDED
    assert new.future.result(timeout=5) == "new"


def test_a_request_for_another_document_waits_but_drops_older_waiting_ones(worker):
    started, gate = threading.Event(), threading.Event()
    running = worker.submit_completion(
        "file:///a.py", lambda token: started.set() or (gate.wait(5) and "a")
    )
    assert started.wait(5)
    waiting = worker.submit_completion("file:///b.py", lambda token: "b")
    newest = worker.submit_completion("file:///c.py", lambda token: "c")
    gate.set()
    assert running.future.result(timeout=5) == "a"
    with pytest.raises(JobDropped) as dropped:
        waiting.future.result(timeout=5)
    assert dropped.value.reason == EmptyReason.SUPERSEDED
    assert newest.future.result(timeout=5) == "c"


def test_tasks_are_never_dropped_and_run_in_order(worker):
    order: list[str] = []
    gate = threading.Event()
    worker.submit_task(lambda token: gate.wait(5))
    task = worker.submit_task(lambda token: order.append("task") or "done")
    completion = worker.submit_completion("file:///a.py", lambda token: order.append("c") or 1)
    worker.submit_completion("file:///a.py", lambda token: order.append("c2") or 2)
    gate.set()
    assert task.future.result(timeout=5) == "done"
    with pytest.raises(JobDropped):
        completion.future.result(timeout=5)
    worker.submit_task(lambda token: None).future.result(timeout=5)
    assert order == ["task", "c2"]


def test_cancel_completions_and_errors_do_not_kill_the_thread(worker):
    started, steps = threading.Event(), []
    job = worker.submit_completion("file:///a.py", spin_until_cancelled(started, steps))
    assert started.wait(5)
    worker.cancel_completions(EmptyReason.MODEL_LOADING)
    assert job.future.result(timeout=5) == "stopped"
    assert job.reason == EmptyReason.MODEL_LOADING

    def boom(token):
        raise RuntimeError("bad request")

    failing = worker.submit_completion("file:///a.py", boom)
    with pytest.raises(RuntimeError, match="bad request"):
        failing.future.result(timeout=5)
    assert worker.submit_task(lambda token: "alive").future.result(timeout=5) == "alive"


def test_stop_cancels_everything_and_refuses_new_work():
    worker = ModelWorker("short-lived")
    started, steps = threading.Event(), []
    job = worker.submit_completion("file:///a.py", spin_until_cancelled(started, steps))
    assert started.wait(5)
    worker.stop()
    assert job.future.result(timeout=5) == "stopped"
    late = worker.submit_task(lambda token: "never")
    with pytest.raises(JobDropped):
        late.future.result(timeout=5)
