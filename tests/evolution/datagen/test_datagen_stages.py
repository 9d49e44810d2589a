"""Scoring, several machines (shards and merge), changed settings, import into the store."""

from __future__ import annotations

import json
import math
import re
import shutil

import pytest
from datagen_helpers import lines, make_config, outputs, run, script

from evolution.datagen import InputError, RunLocked
from evolution.datagen.importer import import_filtered, instruction_for
from evolution.datagen.items import ShardSpec
from evolution.datagen.writer import Parts
from evolution.store import (
    Decontaminator,
    RecordContext,
    RecordDraft,
    TrainingStore,
    load_benchmark_texts,
)
from evolution.testserver import Fault, default_logprob, tokenize

PREFIX = "This is an algorithm function.\n\n"
# HumanEval/0's own words: a description copied from a benchmark.
LEAKED_DESC = (
    "Check if in given list of numbers, are any two numbers closer to each other than "
    "given threshold."
)
LEAKED_CODE = (
    "close_pair(numbers, threshold):\n    ordered = sorted(numbers)\n"
    "    return any(b - a < threshold for a, b in zip(ordered, ordered[1:]))\n"
)


def expected_scores(text: str, prefix: str) -> tuple[float, float]:
    """Mean logprob and perplexity the test server's stand-in model gives ``text``."""
    prompt, logprobs, offset = prefix + text, [], 0
    for position, token in enumerate(tokenize(prefix + text)):
        if position > 0 and offset + len(token) > len(prefix):
            logprobs.append(default_logprob(token))
        offset += len(token)
    mean = sum(logprobs) / len(logprobs)
    assert offset == len(prompt)
    return mean, math.exp(-mean)


def test_scoring_records_perplexity_and_ifd(server, tmp_path, benchmark_names):
    descs = tmp_path / "descs.jsonl"
    descs.write_text(json.dumps({"id": "leak", "desc": LEAKED_DESC}) + "\n")
    server.add_rule(prompt="closer to each other than given threshold\\.\ndef $", text=LEAKED_CODE)
    config = make_config(
        tmp_path,
        server.base_url,
        filters={"scoring": {"enabled": True}},
        io={"input_desc_path": str(descs)},
    )
    _, code = run(config, benchmark_names)
    assert code.scoring is not None and code.scoring.done == 3 and not code.stopped
    scored = lines(tmp_path / "code" / "scored.jsonl")
    filtered = lines(tmp_path / "code" / "filtered.jsonl")
    assert [r["id"] for r in scored] == [r["id"] for r in filtered]
    for record in scored:
        mean, perplexity = expected_scores(record["code"], PREFIX)
        assert record["score"]["perplexity"] == pytest.approx(perplexity, rel=1e-3)
        assert record["score"]["mean_logprob"] == pytest.approx(mean, abs=1e-4)
    leak = scored[-1]
    given, _ = expected_scores(leak["code"], f"{PREFIX}# {LEAKED_DESC}\n")
    plain, _ = expected_scores(leak["code"], PREFIX)
    assert leak["score"]["ifd"] == pytest.approx(given / plain, rel=1e-3)
    scoring_bodies = [b for b in server.bodies("/v1/completions") if b.get("echo")]
    assert len(scoring_bodies) == 4  # one per function, one more given the description
    assert all(b["max_tokens"] == 0 and b["logprobs"] == 1 for b in scoring_bodies)
    metrics = json.loads((tmp_path / "code" / "metrics.json").read_text())
    assert metrics["scoring"]["scored"] == 3 and "trivial" in metrics["scoring"]["note"]


def test_scoring_without_logprobs_stops_with_a_clear_error(server, tmp_path, benchmark_names):
    server.inject(Fault.of("no_logprobs", fraction=1.0))
    config = make_config(tmp_path, server.base_url, filters={"scoring": {"enabled": True}})
    _, code = run(config, benchmark_names)
    assert code.stopped is not None and "logprobs" in code.stopped
    assert (tmp_path / "code" / "filtered.jsonl").is_file()  # stage B itself is done
    assert not (tmp_path / "code" / "scored.jsonl").exists()


def _gather(source, target, stage: str) -> None:
    shutil.copytree(source / stage / "parts", target / stage / "parts", dirs_exist_ok=True)


def test_shards_on_two_machines_merge_into_the_whole_run(server, tmp_path, benchmark_names):
    whole, one, two = tmp_path / "whole", tmp_path / "m1", tmp_path / "m2"
    options = {"namegen": {"requests_per_arm": 8}}
    run(make_config(whole, server.base_url, **options), benchmark_names)
    server.clear_requests()
    configs = {m: make_config(m, server.base_url, **options) for m in (one, two)}
    for stage in ("names", "code"):
        for index, machine in ((1, one), (2, two)):
            [report] = run(
                configs[machine], benchmark_names, stages=(stage,), shard=ShardSpec(index, 2)
            )
            assert report.generation is not None and not report.finalized
            assert 0 < report.generation.done < report.generation.planned * 2
        _gather(two, one, stage)
        with Parts(one / stage, "raw").lock("shard-2-of-2"), pytest.raises(RunLocked):
            run(configs[one], benchmark_names, stages=(stage,), merge_only=True)
        [merged] = run(configs[one], benchmark_names, stages=(stage,), merge_only=True)
        assert merged.finalized and merged.missing_items == 0
        if stage == "names":  # machine 2 needs the merged names for stage B
            shutil.copytree(one / "names", two / "names", dirs_exist_ok=True)
    assert len(server.requests) == 16 + 3  # every item once, over both machines
    assert outputs(one) == outputs(whole)


def test_merge_without_parts_says_so(server, tmp_path, benchmark_names):
    config = make_config(tmp_path, server.base_url)
    with pytest.raises(InputError, match="nothing to merge"):
        run(config, benchmark_names, stages=("names",), merge_only=True)


def test_a_resume_refuses_changed_settings_but_takes_more_requests(
    server, tmp_path, benchmark_names
):
    run(make_config(tmp_path, server.base_url), benchmark_names, stages=("names",))
    hotter = make_config(tmp_path, server.base_url, namegen={"temperature": 0.9})
    with pytest.raises(InputError, match=r"changed: sampling.temperature"):
        run(hotter, benchmark_names, stages=("names",))
    server.clear_requests()
    more = make_config(tmp_path, server.base_url, namegen={"requests_per_arm": 5})
    [report] = run(more, benchmark_names, stages=("names",))
    assert report.generation is not None
    assert (report.generation.skipped, report.generation.done) == (6, 4)
    assert len(server.requests) == 4
    assert len(lines(tmp_path / "names" / "raw.jsonl")) == 40


def test_import_goes_through_the_stores_decontamination(server, tmp_path, benchmark_names):
    descs = tmp_path / "descs.jsonl"
    descs.write_text(json.dumps({"id": "leak", "desc": LEAKED_DESC}) + "\n")
    server.set_script(script())
    server.add_rule(prompt="closer to each other than given threshold\\.\ndef $", text=LEAKED_CODE)
    config = make_config(tmp_path, server.base_url, io={"input_desc_path": str(descs)})
    run(config, benchmark_names)
    decontaminator = Decontaminator(load_benchmark_texts(["humaneval"]))
    with TrainingStore(tmp_path / "store" / "pairs.jsonl", decontaminator=decontaminator) as store:
        search = next(r for r in lines(tmp_path / "code" / "filtered.jsonl")
                      if r["func_name"] == "binary_search")  # fmt: skip
        # The same function, reformatted, was already recorded from the editor.
        renamed = re.sub(r"\blo\b", "low", search["code"])
        store.add(RecordDraft("Find x.", renamed, "editor", RecordContext(function_name="bs")))
        summary = import_filtered(config, store)
        assert (summary.read, summary.added, summary.duplicates, summary.flagged) == (3, 2, 1, 1)
        again = import_filtered(config, store)
        assert (again.added, again.imported_before) == (0, 2)
        records = {r.context.function_name: r for r in store.records() if r.source == "datagen"}
    leak, merge = records["close_pair"], records["merge_intervals"]
    assert leak.decontamination.flagged and "HumanEval/0" in leak.decontamination.reasons[0]
    assert leak.instruct == LEAKED_DESC
    assert merge.instruct == "Write the algorithm function `merge_intervals(intervals)` in Python."
    assert merge.provenance.generator_model == "Qwen2.5-Coder-32B"
    assert merge.provenance.sampling["datagen"]["max_tokens"] == 512


def test_instructions_come_from_the_docstring_when_there_is_one() -> None:
    code = 'def area(w, h):\n    """Return the area.\n\n    In metres."""\n    return w * h\n'
    assert instruction_for(None, code, "area") == "Return the area."
    assert instruction_for("  Multiply.  ", code, "area") == "Multiply."
