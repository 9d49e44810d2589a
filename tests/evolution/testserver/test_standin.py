"""The generator and verifier stand-in: faults at the stated rates, served over real HTTP."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

import pytest

from evaluation.runner import evaluate_samples
from evaluation.samples import Sample
from evaluation.taskfamily import build_family
from evolution.evolve import EvolveClients, EvolveRequest, EvolveSettings, self_evolve
from evolution.testserver import ScriptedServer
from evolution.testserver.standin import FaultRates, FaultRatesError, build_standin

HIGH = FaultRates(wrong_code=0.3, unparsable=0.1, wrong_tests=0.15, no_tests=0.1, prose=0.5)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[object]:
    from evaluation.sandbox import Sandbox

    with Sandbox(workers=2) as pool:
        yield pool


def within(observed: int, n: int, rate: float) -> bool:
    """Whether ``observed`` of ``n`` is within four standard deviations of ``rate``."""
    return abs(observed - n * rate) <= 4 * math.sqrt(n * rate * (1 - rate)) + 1


def test_rates_parse_and_refuse_what_is_wrong():
    rates = FaultRates.parse("wrong_code=0.4, prose=0")
    assert (rates.wrong_code, rates.prose, rates.unparsable) == (0.4, 0.0, FaultRates().unparsable)
    for bad, message in [
        ("wrong=0.1", "expected name=value"),
        ("prose=lots", "not a number"),
        ("prose=1.5", "between 0 and 1"),
        ("wrong_code=0.7,unparsable=0.5", "must not exceed 1"),
    ]:
        with pytest.raises(FaultRatesError, match=message):
            FaultRates.parse(bad)


def test_the_planned_faults_come_at_the_stated_rates():
    tasks = build_family().train
    n = len(tasks)
    counts = build_standin(tasks, HIGH, seed=3).counts()
    wrong = sum(counts["code"].get(k, 0) for k in ("off_by_one", "edge_case", "wrong_op"))
    assert within(wrong, n, HIGH.wrong_code)
    assert within(counts["code"]["unparsable"], n, HIGH.unparsable)
    assert within(counts["tests"]["wrong"], n, HIGH.wrong_tests)
    assert within(counts["tests"]["absent"], n, HIGH.no_tests)
    assert within(counts["prose"]["with"], n, HIGH.prose)
    assert set(counts["code"]) == {"correct", "off_by_one", "edge_case", "wrong_op", "unparsable"}
    none = build_standin(tasks, FaultRates.parse("wrong_code=0,unparsable=0"), seed=3).counts()
    assert none["code"] == {"correct": n}


def test_faulty_code_fails_the_task_tests_in_the_sandbox_and_correct_code_passes(sandbox):
    chosen = build_family().train[:240]
    standin = build_standin(chosen, HIGH, seed=1)
    tasks = [task.to_task("composed-train") for task in chosen]
    samples = [Sample(r.task_id, "\n" + r.code, i) for i, r in enumerate(standin.replies)]
    report = evaluate_samples(tasks, samples, sandbox=sandbox)
    passed = {result.task_id: result.passed for result in report.results}
    for reply in standin.replies:
        assert passed[reply.task_id] == reply.code_correct, (reply.code_kind, reply.code)
    faulty = sum(not p for p in passed.values())
    assert within(faulty, len(chosen), HIGH.wrong_code + HIGH.unparsable)


def test_the_verifier_leans_the_right_way_but_is_noisy():
    replies = build_standin(build_family().train, FaultRates(), seed=0).replies
    correct = [r.p_yes for r in replies if r.code_correct]
    wrong = [r.p_yes for r in replies if not r.code_correct]
    assert sum(correct) / len(correct) > sum(wrong) / len(wrong) + 0.3
    assert any(p < 0.5 for p in correct) and any(p >= 0.5 for p in wrong)  # noisy


def test_a_task_gets_the_same_reply_whoever_else_is_asked():
    tasks = build_family().train[:40]
    whole = build_standin(tasks, HIGH, seed=5).replies
    assert build_standin(tasks[10:20], HIGH, seed=5).replies == whole[10:20]
    assert build_standin(tasks, HIGH, seed=6).replies != whole


def expected_rejection(reply) -> str | None:
    """The gate that must reject the reply (None: accepted); "?" when the tests decide."""
    if reply.code_kind == "unparsable":
        return "syntax"
    if reply.tests_kind in ("absent", "wrong"):
        return "execution"
    if not reply.code_correct and reply.tests_kind == "correct":
        return "?"  # its own tests catch the mistake unless they miss the input it shows on
    return None if reply.p_yes >= 0.5 else "verifier"


async def test_the_real_flow_meets_each_fault_at_its_gate(sandbox):
    standin = build_standin(build_family().train[:36], HIGH, seed=2)
    seen: Counter[str] = Counter()
    with ScriptedServer(standin.script) as server:
        settings = EvolveSettings.from_endpoints(server.base_url, max_retries=0)
        async with EvolveClients.open(settings) as clients:
            for reply in standin.replies:
                request = EvolveRequest(instruction=reply.instruction)
                result = await self_evolve(request, settings, clients=clients, sandbox=sandbox)
                expected = expected_rejection(reply)
                assert result.status != "error", result.reason
                if expected != "?":
                    assert result.rejected_by == expected, (reply.code_kind, reply.tests_kind)
                if result.verdict is not None:  # the verifier's P(yes) arrived intact
                    assert result.confidence == pytest.approx(reply.p_yes, abs=1e-6)
                if result.ok:
                    assert result.proposed_function == reply.code
                seen[result.rejected_by or "accepted"] += 1
            bodies = server.bodies("/v1/chat/completions")
    assert set(seen) == {"accepted", "syntax", "execution", "verifier"}
    assert {body["model"] for body in bodies} == {settings.generator.model, settings.verifier.model}


async def test_unknown_instructions_get_the_servers_default_reply():
    standin = build_standin(build_family().train[:3], FaultRates(), seed=0)
    with ScriptedServer(standin.script) as server:
        settings = EvolveSettings.from_endpoints(server.base_url, max_retries=0)
        result = await self_evolve(EvolveRequest(instruction="Write a web server."), settings)
    assert result.rejected_by == "reply"
