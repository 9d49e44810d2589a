"""The parts of prefetching and candidates: the worker's priorities, the accepted window, the
cache's several entries per window and its prefetch marks."""

from __future__ import annotations

import threading

import pytest

from server.cache import CompletionCache, same_window
from server.postprocess import Filtered, Suggestion
from server.prefetch import accepted_window
from server.reasons import EmptyReason
from server.scheduler import JobDropped, ModelWorker
from tests.server.test_cache import window
from tests.server.test_scheduler import spin_until_cancelled


@pytest.fixture
def worker():
    worker = ModelWorker("test-model")
    yield worker
    worker.stop()


def test_any_request_stops_a_running_prefetch_whatever_its_document(worker):
    started, steps = threading.Event(), []
    prefetch = worker.submit_prefetch("file:///a.py", spin_until_cancelled(started, steps))
    assert started.wait(5)
    request = worker.submit_completion("file:///b.py", lambda token: "b")
    assert prefetch.future.result(timeout=5) == "stopped"
    assert prefetch.reason == EmptyReason.SUPERSEDED
    assert request.future.result(timeout=5) == "b"


def test_a_prefetch_waits_behind_a_request_and_never_stops_it(worker):
    started, gate = threading.Event(), threading.Event()
    request = worker.submit_completion(
        "file:///a.py", lambda token: started.set() or (gate.wait(5) and not token.cancelled)
    )
    assert started.wait(5)
    older = worker.submit_prefetch("file:///a.py", lambda token: "older")
    newer = worker.submit_prefetch("file:///a.py", lambda token: "newer")
    gate.set()
    assert request.future.result(timeout=5) is True  # not cancelled by either prefetch
    with pytest.raises(JobDropped):
        older.future.result(timeout=5)  # a newer prefetch replaced it while it waited
    assert newer.future.result(timeout=5) == "newer"


def test_a_waiting_prefetch_is_dropped_by_a_request(worker):
    started, gate = threading.Event(), threading.Event()
    worker.submit_task(lambda token: started.set() or gate.wait(5))
    assert started.wait(5)
    prefetch = worker.submit_prefetch("file:///a.py", lambda token: "p")
    request = worker.submit_completion("file:///b.py", lambda token: "b")
    gate.set()
    with pytest.raises(JobDropped):
        prefetch.future.result(timeout=5)
    assert request.future.result(timeout=5) == "b"


def test_the_accepted_window_has_the_suggestion_typed_in_and_the_replaced_text_gone():
    before = window("def f(x):\n    return max(x", suffix=")\nprint(1)\n")
    one_line = accepted_window(before, Suggestion(", 0)", replace_after=1))
    assert one_line.prefix == "def f(x):\n    return max(x, 0)"
    assert one_line.suffix == "\nprint(1)\n"
    assert (one_line.line_prefix, one_line.line_suffix) == ("    return max(x, 0)", "")
    lines = accepted_window(window("def f(x):\n    "), Suggestion("y = x\n    return y"))
    assert lines.line_prefix == "    return y" and lines.suffix == before.suffix[1:]
    assert same_window(lines, window("def f(x):\n    y = x\n    return y"))
    assert not same_window(lines, window("def f(x):\n    y = x\n    return"))


def test_several_suggestions_for_a_window_come_back_in_order_each_once():
    cache = CompletionCache()
    prefix = "def f(x):\n    "
    cache.put_all(window(prefix), [Suggestion("return x"), Suggestion("pass"), Suggestion("x")])
    cache.put(window(prefix), Suggestion("pass"))  # the same text again: still once
    hit = cache.lookup(window(prefix))
    assert hit is not None
    assert [s.text for s in hit.suggestions] == ["pass", "return x", "x"]
    typed = cache.lookup(window(prefix + "re"))  # typing through keeps those that fit
    assert typed is not None and [s.text for s in typed.suggestions] == ["turn x"]
    # The one that answered last is now the most recently used: it comes first.
    assert cache.get(window(prefix)) == Suggestion("return x")


def test_a_filtered_result_answers_only_when_it_is_the_newest():
    cache = CompletionCache()
    prefix = "x = "
    cache.put(window(prefix), Filtered(EmptyReason.FILTERED_SYNTAX, "junk"))
    hit = cache.lookup(window(prefix))
    assert hit is not None and hit.filtered is not None and not hit.suggestions
    cache.put(window(prefix), Suggestion("1"))
    hit = cache.lookup(window(prefix))
    assert hit is not None and hit.filtered is None and hit.suggestions == (Suggestion("1"),)


def test_a_prefetched_entry_counts_as_used_once_and_looking_does_not_use_it():
    cache = CompletionCache()
    prefix = "def f(x):\n    "
    cache.put_all(window(prefix), [Suggestion("return x"), Suggestion("pass")], prefetched=True)
    looked = cache.lookup(window(prefix), use=False)
    assert looked is not None and looked.prefetch_used
    first = cache.lookup(window(prefix))
    assert first is not None and first.prefetch_used
    again = cache.lookup(window(prefix + "ret"))
    assert again is not None and not again.prefetch_used
    cache.put(window(prefix), Suggestion("x"))  # a request's own entry is no prefetch
    mixed = cache.lookup(window(prefix))
    assert mixed is not None and not mixed.prefetch_used
