"""``evoselfcode evolve --gates all|syntax|none``: what each policy records, and the provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evolve_helpers import generator_rule, reply, verifier_rule

from evolution.evolve import EvolveSettings, InvalidSettings
from evolution.store import Provenance, RecordDraft, TrainingStore
from evolution.store.errors import InvalidRecord
from server.cli import main

GOOD = ("def twice(x):\n    return 2 * x\n", "assert twice(3) == 6\n")
BROKEN = ("def halve(x)\n    return x / 2\n", "assert halve(4) == 2\n")  # no colon
FAILING = ("def third(x):\n    return x / 4\n", "assert third(9) == 3\n")  # wrong, and caught


def setup(test_server, tmp_path: Path) -> Path:
    rules = [
        generator_rule(reply(code, tests), prompt=word)
        for word, (code, tests) in {"twice": GOOD, "halve": BROKEN, "third": FAILING}.items()
    ]
    test_server.set_script({"rules": [verifier_rule(), *rules]})
    lines = [
        json.dumps({"id": word, "instruction": f"Write `{word}(x)`."})
        for word in ("twice", "halve", "third")
    ]
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(test_server, instructions: Path, data: Path, *extra: str) -> dict:
    arguments = ["evolve", "--instructions", str(instructions), "--data-dir", str(data)]
    arguments += ["--generator-url", test_server.base_url, "--max-retries", "0"]
    assert main([*arguments, "--progress", "json", *extra]) == 0
    with TrainingStore.in_data_dir(data) as store:
        return {(r.provenance.task_id or "").split(":")[-1]: r for r in store.records()}


@pytest.mark.parametrize(
    ("policy", "recorded", "gates_run"),
    [
        ("none", {"twice", "halve", "third"}, ["reply"]),
        ("syntax", {"twice", "third"}, ["reply", "syntax"]),
        ("all", {"twice"}, ["reply", "syntax", "execution", "verifier"]),
    ],
)
def test_each_policy_records_what_passed_its_gates(
    test_server, tmp_path, capsys, policy, recorded, gates_run
):
    instructions = setup(test_server, tmp_path)
    extra = () if policy == "all" else ("--gates", policy)  # "all" is the default
    records = run(test_server, instructions, tmp_path / policy, *extra)
    assert set(records) == recorded
    for record in records.values():
        assert record.provenance.gate_policy == policy
        assert [gate["name"] for gate in record.provenance.gates] == gates_run
        assert all(gate["passed"] for gate in record.provenance.gates)
    verifier_calls = [body for body in test_server.bodies() if "Does the code" in json.dumps(body)]
    assert bool(verifier_calls) == (policy == "all")  # a gate outside the policy never runs
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["recorded"] == len(recorded)


def test_a_bad_policy_is_refused():
    with pytest.raises(InvalidSettings, match="gates"):
        EvolveSettings.from_endpoints("http://127.0.0.1:9/v1", gates="most")


def test_only_an_ungated_pair_may_hold_code_that_does_not_parse(tmp_path):
    with TrainingStore(tmp_path / "pairs.jsonl") as store:
        for policy in (None, "all", "syntax"):
            draft = RecordDraft(
                "Halve it.", BROKEN[0], "batch", provenance=Provenance(gate_policy=policy)
            )
            with pytest.raises(InvalidRecord, match="does not parse"):
                store.add(draft)
        ungated = RecordDraft(
            "Halve it.", BROKEN[0], "batch", provenance=Provenance(gate_policy="none")
        )
        assert store.add(ungated).recorded
        [record] = store.records()
    assert record.code == BROKEN[0] and record.provenance.gate_policy == "none"
