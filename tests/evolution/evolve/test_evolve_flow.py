"""The whole flow against the real test server (HTTP on loopback) and the real sandbox."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
from evolve_helpers import GENERATOR, VERIFIER, generator_rule, reply, verifier_rule

from evaluation.sandbox import Isolation
from evolution.evolve import (
    EvolveRequest,
    EvolveSettings,
    NotAccepted,
    Position,
    record_accepted,
    self_evolve,
)
from evolution.store import Decontaminator, TrainingStore
from evolution.testserver import Fault, ScriptedServer

SOURCE = '''import math


def mean(values):
    """Arithmetic mean of the values."""
    # self-evolve: return 0.0 for an empty list
    return sum(values) / len(values)
'''
CURSOR = Position(6, 8)
GOOD = reply(
    'def mean(values):\n    """Arithmetic mean; 0.0 for none."""\n    if not values:\n'
    "        return 0.0\n    return math.fsum(values) / len(values)\n",
    "assert mean([]) == 0.0\nassert mean([1, 2, 3]) == 2.0\n"
    "def test_floats():\n    assert abs(mean([0.1] * 10) - 0.1) < 1e-12\n",
)


def settings_for(server: ScriptedServer, **options) -> EvolveSettings:
    return EvolveSettings.from_endpoints(server.base_url, max_retries=1, **options)


async def evolve(server, sandbox, source=SOURCE, where=CURSOR, **options):
    request = EvolveRequest(source, where, path="stats.py")
    return await self_evolve(request, settings_for(server, **options), sandbox=sandbox)


def names(result) -> list[tuple[str, bool]]:
    return [(gate.name, gate.passed) for gate in result.gates]


async def test_an_accepted_evolution_is_recorded_once(test_server, sandbox, tmp_path):
    test_server.set_script({"rules": [generator_rule(GOOD), verifier_rule()]})
    result = await evolve(test_server, sandbox)
    assert result.status == "accepted" and result.ok, result.reason
    assert names(result) == [
        ("reply", True),
        ("syntax", True),
        ("execution", True),
        ("verifier", True),
    ]
    assert result.verdict == "yes" and result.confidence == pytest.approx(0.9589, abs=1e-3)
    assert result.proposed is not None and "math.fsum" in result.proposed
    assert result.matches(SOURCE) and not result.matches(SOURCE.replace("sum(", "max("))
    shown = result.to_json()
    assert shown["range"] == {
        "start": {"line": 3, "character": 0},
        "end": {"line": 6, "character": 36},
    }
    assert shown["rejectedBy"] is None and shown["instruction"].startswith(
        "Write the Python function"
    )
    assert "return 0.0 for an empty list" in shown["instruction"]
    json.dumps(shown)

    # the verifier was asked for one greedy word with its top candidates' logprobs
    generator_body, verifier_body = test_server.bodies("/v1/chat/completions")
    assert generator_body["model"] == GENERATOR and generator_body["temperature"] == 0.2
    assert verifier_body["model"] == VERIFIER and verifier_body["logprobs"] is True
    assert verifier_body["top_logprobs"] == 10 and verifier_body["temperature"] == 0.0

    with TrainingStore.in_data_dir(tmp_path, decontaminator=Decontaminator([])) as store:
        outcome = record_accepted(store, result)
        assert outcome.recorded
        record = store.get(outcome.record_id or "")
        assert record.instruct == result.instruction.text if result.instruction else False
        assert record.code.startswith("def mean(values):") and record.source == "editor"
        assert record.context.path == "stats.py" and record.context.function_name == "mean"
        assert record.provenance.generator_model == GENERATOR
        assert record.provenance.verifier_model == VERIFIER
        assert set(record.provenance.prompt_hashes) == {"generator", "verifier"}
        assert record.provenance.sampling["generator"]["temperature"] == 0.2
        assert [g["name"] for g in record.provenance.gates] == [
            "reply",
            "syntax",
            "execution",
            "verifier",
        ]
        assert record.provenance.confidence == result.confidence
        again = record_accepted(store, result)
        assert not again.recorded and again.duplicate_of == outcome.record_id


def _reply(code: str, tests: str = "assert mean([]) == 0\n") -> str:
    return reply(code, tests)


REJECTIONS = [
    ("I think the function is fine as it is.", "reply", "holds no code", 1),
    (
        _reply("def average(values):\n    return 0\n", "assert average([]) == 0\n"),
        "reply",
        "does not define `mean` (it defines `average`)",
        1,
    ),
    (
        _reply("def mean(values, weights):\n    return 0\n"),
        "reply",
        "new parameter `weights` of `mean` needs a default",
        1,
    ),
    (_reply("def mean(values:\n    return 0\n"), "syntax", "does not parse", 2),
    (_reply("def mean(values):\n    return statistics.mean(values)\n"), "syntax", "F821", 2),
    ("```python\ndef mean(values):\n    return 0.0\n```", "execution", "wrote no tests", 3),
    (
        _reply("def mean(values):\n    return 0.0\n", "assert mean([2, 4]) == 3.0\n"),
        "execution",
        "a test failed",
        3,
    ),
]


@pytest.mark.parametrize(("generator_text", "rejected_by", "reason", "ran"), REJECTIONS)
async def test_each_gate_rejects_what_it_should(
    test_server, sandbox, generator_text, rejected_by, reason, ran
):
    test_server.set_script({"rules": [generator_rule(generator_text), verifier_rule()]})
    result = await evolve(test_server, sandbox)
    assert result.status == "rejected" and result.rejected_by == rejected_by
    assert reason in result.reason and result.reason.startswith(f"{rejected_by}: ")
    assert len(result.gates) == ran and all(g.passed for g in result.gates[:-1])
    assert len(test_server.bodies("/v1/chat/completions")) == 1  # the verifier was not asked
    assert result.to_json()["rejectedBy"] == rejected_by


async def test_the_verifier_can_say_no_or_be_unsure(test_server, sandbox):
    test_server.set_script(
        {"rules": [generator_rule(GOOD), verifier_rule("No", yes=-2.3, no=-0.1)]}
    )
    said_no = await evolve(test_server, sandbox)
    assert said_no.rejected_by == "verifier" and said_no.verdict == "no"
    assert names(said_no)[:3] == [("reply", True), ("syntax", True), ("execution", True)]
    assert said_no.confidence == pytest.approx(0.0998, abs=1e-3)

    test_server.set_script({"rules": [generator_rule(GOOD), verifier_rule(yes=-0.6, no=-0.8)]})
    unsure = await evolve(test_server, sandbox, min_verifier_confidence=0.8)
    assert unsure.rejected_by == "verifier" and "below the minimum 0.80" in unsure.reason


async def test_a_verifier_without_logprobs_decides_from_its_text(test_server, sandbox):
    rule = verifier_rule(logprobs_supported=False)
    test_server.set_script({"rules": [generator_rule(GOOD), rule]})
    result = await evolve(test_server, sandbox)
    assert result.ok and result.confidence is None and result.verdict == "yes"
    assert "confidence is unavailable" in result.reason
    strict = await evolve(test_server, sandbox, require_confidence=True)
    assert strict.rejected_by == "verifier"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_unreachable_generator_is_an_error_not_a_gate(sandbox):
    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = EvolveSettings.from_endpoints(url, max_retries=1)
    result = await self_evolve(EvolveRequest(SOURCE, CURSOR), settings, sandbox=sandbox)
    assert result.status == "error" and result.gates == [] and result.error is not None
    assert result.error.role == "generator" and result.error.kind == "EndpointUnreachable"
    assert result.reason.startswith(f"generator unreachable at {url}")
    assert "after 2 attempts" in result.reason


async def test_a_wrong_key_fails_at_once_with_a_clear_message(sandbox):
    with ScriptedServer({"rules": [generator_rule(GOOD)]}, api_key="right-key") as server:
        settings = EvolveSettings.from_endpoints(server.base_url, generator_key="wrong-key-123")
        result = await self_evolve(EvolveRequest(SOURCE, CURSOR), settings, sandbox=sandbox)
        assert len(server.requests) == 1  # no retry storm on 401
        url = server.base_url
    assert result.status == "error" and result.error and result.error.kind == "AuthenticationError"
    assert result.reason.startswith(f"generator at {url} refused the API key")
    assert "wrong-key-123" not in json.dumps(result.to_json())
    assert "wrong-key-123" not in repr(settings)


async def test_a_verifier_outage_after_the_gates_is_an_error(test_server, sandbox):
    test_server.set_script({"rules": [generator_rule(GOOD), verifier_rule()]})
    down = f"http://127.0.0.1:{free_port()}/v1"
    settings = EvolveSettings.from_endpoints(test_server.base_url, down, max_retries=0)
    result = await self_evolve(EvolveRequest(SOURCE, CURSOR), settings, sandbox=sandbox)
    assert result.status == "error" and result.error and result.error.role == "verifier"
    assert result.reason.startswith(f"verifier unreachable at {down}")
    assert [g.name for g in result.gates] == ["reply", "syntax", "execution"]


async def test_a_flaky_generator_is_retried_and_then_succeeds(test_server, sandbox):
    test_server.set_script({"rules": [generator_rule(GOOD), verifier_rule()]})
    test_server.inject(Fault.http_error(503, count=1), Fault.of("drop"))
    settings = EvolveSettings.from_endpoints(test_server.base_url, max_retries=3)
    result = await self_evolve(EvolveRequest(SOURCE, CURSOR), settings, sandbox=sandbox)
    assert result.ok, result.reason
    assert len(test_server.requests) == 4  # 503, dropped, generator, verifier


async def test_progress_reports_each_stage_in_order(test_server, sandbox):
    test_server.set_script({"rules": [generator_rule(GOOD), verifier_rule()]})
    events = []
    request = EvolveRequest(SOURCE, CURSOR)
    await self_evolve(
        request, settings_for(test_server), sandbox=sandbox, on_progress=events.append
    )
    stages = [event.stage for event in events]
    assert stages == ["locate", "generate", "reply", "syntax", "execution", "verifier", "done"]
    assert [event.step for event in events] == list(range(7)) and events[-1].total == 6


async def test_cancelling_stops_a_slow_generator_at_once(test_server, sandbox):
    test_server.set_script({"rules": [generator_rule(GOOD), verifier_rule()]})
    test_server.inject(Fault(kind="slow", delay=30.0))
    task = asyncio.create_task(evolve(test_server, sandbox))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 2.0


async def test_a_method_is_evolved_with_its_class(test_server, sandbox):
    source = (
        "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
        "    def push(self, item):\n        self.items.append(item)\n\n"
        "    # 自我演化：空栈时返回 None\n    def peek(self):\n        return self.items[-1]\n"
    )
    improved = reply(
        "def peek(self):\n    return self.items[-1] if self.items else None\n",
        "s = Stack()\nassert s.peek() is None\ns.push(3)\nassert s.peek() == 3\n",
    )
    test_server.set_script({"rules": [generator_rule(improved), verifier_rule()]})
    result = await evolve(test_server, sandbox, source=source, where=Position(9, 10))
    assert result.ok, result.reason
    assert result.location is not None and result.location.class_name == "Stack"
    assert (
        result.proposed
        == "    def peek(self):\n        return self.items[-1] if self.items else None"
    )
    prompt = test_server.bodies("/v1/chat/completions")[0]["messages"][1]["content"]
    assert "class Stack:" in prompt and "空栈时返回 None" in prompt


async def test_without_code_a_new_function_is_written(test_server, sandbox):
    new = reply(
        "def slug(text):\n    return '-'.join(text.lower().split())\n",
        "assert slug('Hello World') == 'hello-world'\n",
    )
    test_server.set_script({"rules": [generator_rule(new), verifier_rule()]})
    request = EvolveRequest(instruction="Turn a title into a URL slug.")
    result = await self_evolve(request, settings_for(test_server), sandbox=sandbox)
    assert result.ok and result.location is None and result.function_name == "slug"
    assert (
        result.instruction is not None
        and result.instruction.text == "Turn a title into a URL slug."
    )


async def test_a_rejected_result_cannot_be_recorded(test_server, sandbox, tmp_path):
    test_server.set_script({"rules": [generator_rule(GOOD), verifier_rule("No", yes=-3, no=-0.1)]})
    result = await evolve(test_server, sandbox)
    with TrainingStore.in_data_dir(tmp_path, decontaminator=Decontaminator([])) as store:
        with pytest.raises(NotAccepted, match="not accepted by the gates"):
            record_accepted(store, result)
        assert len(store) == 0


async def test_no_function_at_the_cursor_is_an_error_before_any_request(test_server, sandbox):
    result = await evolve(test_server, sandbox, where=Position(0, 0))
    assert result.status == "error" and result.error and result.error.role == "locate"
    assert "no function at line 1" in result.reason
    assert test_server.requests == []


async def test_a_huge_function_is_refused_before_any_request(test_server, sandbox):
    body = "".join(f"    x{i} = {i}\n" for i in range(3000))
    source = f"def big():\n{body}    return 0\n"
    result = await evolve(test_server, sandbox, source=source, where=Position(1, 4))
    assert result.status == "error" and result.error and result.error.kind == "FunctionTooLong"
    assert "`big` has 3002 lines" in result.reason and "select a smaller function" in result.reason
    assert test_server.requests == []


async def test_a_reply_cut_at_max_tokens_says_so(test_server, sandbox):
    cut = "```python\n# improved\ndef mean(values):\n    return math.fsum(values) / len("
    test_server.set_script({"rules": [generator_rule(cut, finish_reason="length")]})
    result = await evolve(test_server, sandbox, max_tokens=64)
    assert result.rejected_by == "syntax"
    assert result.reason.endswith("(the reply was cut off at max_tokens = 64)")


async def test_a_closed_sandbox_is_an_error_not_a_gate(test_server):
    from evaluation.sandbox import Sandbox

    test_server.set_script({"rules": [generator_rule(GOOD), verifier_rule()]})
    closed = Sandbox(workers=1)
    closed.close()
    result = await evolve(test_server, closed)
    assert result.status == "error" and result.error and result.error.role == "sandbox"
    assert [gate.name for gate in result.gates] == ["reply", "syntax"]


async def test_a_verifier_that_refuses_logprobs_is_asked_again_without(test_server, sandbox):
    test_server.set_script({"rules": [generator_rule(GOOD)]})
    with ScriptedServer({"rules": [verifier_rule()]}) as verifier:
        verifier.inject(Fault.http_error(400, count=1))
        settings = EvolveSettings.from_endpoints(test_server.base_url, verifier.base_url)
        result = await self_evolve(EvolveRequest(SOURCE, CURSOR), settings, sandbox=sandbox)
        first, second = verifier.bodies("/v1/chat/completions")
    assert result.ok and result.confidence is None, result.reason
    assert first["logprobs"] is True and "logprobs" not in second
    assert result.verifier is not None and "logprobs" not in result.verifier.sampling


class _WeakSandbox:
    """A sandbox whose kernel refused the namespaces: never asked to run anything."""

    isolation = Isolation(
        False, False, False, None, landlock_abi=7, seccomp=True, problems=("userns: disabled",)
    )


async def test_generated_code_never_runs_below_full_isolation_unless_allowed():
    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = EvolveSettings.from_endpoints(url, max_retries=0)
    refused = await self_evolve(EvolveRequest(SOURCE, CURSOR), settings, sandbox=_WeakSandbox())
    assert refused.status == "error" and refused.error is not None
    assert (refused.error.role, refused.error.kind) == ("sandbox", "IsolationRefused")
    assert "userns: disabled" in refused.reason and "allowGuardOnly" in refused.reason
    settings.allow_guard_only = True  # the user's choice: the flow goes on, to the generator
    allowed = await self_evolve(EvolveRequest(SOURCE, CURSOR), settings, sandbox=_WeakSandbox())
    assert allowed.error is not None and allowed.error.role == "generator"
