"""Both stages against the local OpenAI-compatible test server: requests, outputs, metrics."""

from __future__ import annotations

import json

import pytest
from datagen_helpers import (
    FIM_PROMPT,
    L2R_PROMPT,
    MODEL,
    desc_text,
    lines,
    make_config,
    run,
    script,
    write_descs,
)

from evolution.datagen import InputError
from evolution.datagen.items import derive_seed
from evolution.datagen.prompts import prompt_hash

COMPLETIONS = "/v1/completions"
NAME_PARAMS = {"temperature": 0.4, "top_p": 0.9, "max_tokens": 16, "n": 4, "stop": ["(", " ", "\n"]}


def test_stage_a_sends_the_designs_requests_for_both_arms(server, tmp_path, benchmark_names):
    config = make_config(tmp_path, server.base_url)
    [report] = run(config, benchmark_names, stages=("names",))
    assert report.finalized and report.generation and report.generation.done == 6
    bodies = sorted(
        server.bodies(COMPLETIONS), key=lambda b: (b["prompt"] != FIM_PROMPT, b["seed"])
    )
    expected = [
        {"prompt": prompt, "model": MODEL, "seed": derive_seed(42, f"req-{i}"), **NAME_PARAMS}
        for prompt in (FIM_PROMPT, L2R_PROMPT)
        for i in range(3)
    ]
    assert bodies == sorted(expected, key=lambda b: (b["prompt"] != FIM_PROMPT, b["seed"]))


def test_stage_a_outputs_and_ab_statistics(server, tmp_path, benchmark_names):
    config = make_config(tmp_path, server.base_url)
    run(config, benchmark_names, stages=("names",))
    raw = lines(tmp_path / "names" / "raw.jsonl")
    assert [r["id"] for r in raw[:5]] == [
        "FIM-000000#0", "FIM-000000#1", "FIM-000000#2", "FIM-000000#3", "FIM-000001#0",
    ]  # fmt: skip
    assert len(raw) == 24 and {r["source"] for r in raw} == {"FIM", "L2R"}
    assert raw[0]["text"] == "merge_intervals"  # the server cut at "(" as asked
    assert raw[0]["meta"] == {
        "params": NAME_PARAMS,
        "seed": derive_seed(42, "req-0"),
        "model": MODEL,
        "prompt_sha256": prompt_hash(FIM_PROMPT),
    }
    filtered = lines(tmp_path / "names" / "filtered.jsonl")
    assert [(f["func_name"], f["source"], f["sources"]) for f in filtered] == [
        ("merge_intervals", "FIM", {"FIM": 3}),
        ("binary_search", "FIM", {"FIM": 3, "L2R": 3}),  # a tie goes to the main arm
        ("quick_sort", "L2R", {"L2R": 3}),
    ]
    assert filtered[2]["first_id"] == "L2R-000000#1"
    metrics = json.loads((tmp_path / "names" / "metrics.json").read_text())
    assert metrics["complete"] and metrics["kept_names"] == 3
    fim, l2r = metrics["arms"]["FIM"], metrics["arms"]["L2R"]
    assert (fim["completions"], fim["empty"], fim["compliant"]) == (12, 3, 6)
    assert (fim["compliance_rate"], fim["distinct_ratio"]) == (0.5, 0.3333)
    assert fim["reasons"] == {"empty": 3, "keyword": 3}
    assert fim["examples"]["keyword"] == ["class"]
    assert (fim["kept_distinct"], fim["names_per_request"], fim["unique_names"]) == (2, 0.6667, 1)
    assert (l2r["compliant"], l2r["compliance_rate"], l2r["distinct_compliant"]) == (9, 0.75, 3)
    assert l2r["reasons"] == {"benchmark": 3, "keyword": 3}  # "def class" is cut to "def"
    assert (l2r["benchmark_collisions"], l2r["benchmark_names"]) == (3, ["has_close_elements"])
    assert l2r["weak_rate"] == 0.0 and l2r["empty"] == 0
    lo, hi = fim["compliance_ci95"]
    assert lo < 0.5 < hi
    assert metrics["overlap"] == {"kept_union": 3, "kept_by_all_arms": 1}


def test_stage_b_writes_a_function_per_name_and_description(server, tmp_path, benchmark_names):
    server.set_script(script(descs=2))
    descs = write_descs(tmp_path / "descs.jsonl", 2)
    config = make_config(tmp_path, server.base_url, io={"input_desc_path": str(descs)})
    names_report, code_report = run(config, benchmark_names)
    assert names_report.finalized and code_report.finalized
    prefix = "This is an algorithm function.\n\n"
    item_of_prompt = {
        **{
            f"{prefix}def {n}(": f"name:{n}"
            for n in ("merge_intervals", "binary_search", "quick_sort")
        },
        **{f"{prefix}# {desc_text(k)}\ndef ": f"desc:d{k}" for k in (1, 2)},
    }
    stops = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\n@"]
    code_bodies = [b for b in server.bodies(COMPLETIONS) if b["max_tokens"] == 512]
    assert sorted(b["prompt"] for b in code_bodies) == sorted(item_of_prompt)
    for body in code_bodies:
        assert body == {
            "prompt": body["prompt"], "model": MODEL, "temperature": 0.2, "top_p": 0.95,
            "max_tokens": 512, "n": 1, "stop": stops,
            "seed": derive_seed(1234, item_of_prompt[body["prompt"]]),
        }  # fmt: skip
    raw = lines(tmp_path / "code" / "raw.jsonl")
    assert [r["item_id"] for r in raw] == [
        "name:merge_intervals", "name:binary_search", "name:quick_sort", "desc:d1", "desc:d2",
    ]  # fmt: skip
    merge = raw[0]
    assert merge["code"].startswith("def merge_intervals(intervals):\n    intervals.sort()")
    assert merge["code"].endswith("    return out\n")  # the server stopped at "\nprint("
    filtered = lines(tmp_path / "code" / "filtered.jsonl")
    assert [(f["func_name"], f["source"], f["desc"]) for f in filtered] == [
        ("merge_intervals", "FIM", None),
        ("binary_search", "FIM", None),
        ("sum_odd_squares_1", "desc", desc_text(1)),
        ("sum_odd_squares_2", "desc", desc_text(2)),
    ]
    assert set(filtered[0]) == {
        "schema_version",
        "id",
        "desc",
        "func_name",
        "source",
        "code",
        "meta",
    }
    assert filtered[0]["meta"]["params"]["max_tokens"] == 512
    assert filtered[1]["meta"]["name_sources"] == {"FIM": 3, "L2R": 3}
    assert len(filtered[0]["meta"]["ast_hash"]) == 64
    metrics = json.loads((tmp_path / "code" / "metrics.json").read_text())
    assert (metrics["samples"], metrics["kept"], metrics["reasons"]) == (5, 4, {"ruff": 1})
    assert "F821" in metrics["examples"]["ruff"][0]
    assert metrics["by_name_origin"] == {
        "FIM only": {"samples": 1, "kept": 1, "pass_rate": 1.0},
        "L2R only": {"samples": 1, "kept": 0, "pass_rate": 0.0},
        "both": {"samples": 1, "kept": 1, "pass_rate": 1.0},
        "desc": {"samples": 2, "kept": 2, "pass_rate": 1.0},
    }


def test_a_custom_endpoint_gets_its_own_field_names(server, tmp_path, benchmark_names):
    fields = {
        "prompt": "inputs",
        "max_tokens": "parameters.max_new_tokens",
        "temperature": "parameters.temperature",
        "top_p": "parameters.top_p",
        "n": "parameters.n",
        "stop": "parameters.stop",
        "text": "generated_text",
    }
    server.set_script({**script(), "custom_route": {"route": "/generate", "fields": fields}})
    config = make_config(
        tmp_path,
        server.root_url,
        api={"mode": "endpoint", "route": "/generate", "field_map": fields},
        namegen={"requests_per_arm": 1},
    )
    run(config, benchmark_names, stages=("names",))
    bodies = sorted(server.bodies("/generate"), key=lambda b: b["inputs"] != FIM_PROMPT)
    assert bodies == [
        {"inputs": prompt, "parameters": {"max_new_tokens": 16, "temperature": 0.4, "top_p": 0.9,
                                          "n": 4, "stop": ["(", " ", "\n"]}}
        for prompt in (FIM_PROMPT, L2R_PROMPT)
    ]  # fmt: skip
    filtered = lines(tmp_path / "names" / "filtered.jsonl")
    assert [f["func_name"] for f in filtered] == ["merge_intervals", "binary_search", "quick_sort"]


def test_without_names_or_descriptions_stage_b_says_what_to_run(server, tmp_path, benchmark_names):
    config = make_config(tmp_path, server.base_url)
    with pytest.raises(InputError, match="run `evoselfcode datagen --stage names` first"):
        run(config, benchmark_names, stages=("code",))
    assert server.requests == []
