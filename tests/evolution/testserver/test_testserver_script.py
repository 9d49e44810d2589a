"""Scripts: validation that names the bad key, file loading, rule order, times, defaults."""

from __future__ import annotations

import json

import pytest

from evolution.testserver import DEFAULT_TEXT, Rule, Script, ScriptError


def test_rules_match_in_order_on_path_model_and_prompt() -> None:
    script = Script.from_dict(
        {
            "rules": [
                {"path": "/v1/completions", "prompt": "^def", "text": "completion"},
                {"model": "qwen2.5-coder-14b-.*", "prompt": "Does", "text": "Yes"},
                {"prompt": "Does", "text": "any model"},
            ]
        }
    )
    uses: dict[int, int] = {}
    assert script.choose("/v1/completions", "m", "def f", uses).text == "completion"
    assert script.choose("/v1/chat/completions", "m", "def f", uses).text == DEFAULT_TEXT
    chat = "/v1/chat/completions"
    assert script.choose(chat, "qwen2.5-coder-14b-instruct", "Does it?", uses).text == "Yes"
    # the model regex must match the whole name
    assert script.choose(chat, "x-qwen2.5-coder-14b-instruct", "Does it?", uses).text == "any model"
    assert script.choose(chat, None, "Does it?", uses).text == "any model"


def test_times_lets_a_rule_answer_a_few_times_then_fall_through() -> None:
    script = Script(rules=[Rule(text="first", times=2), Rule(text="later")])
    uses: dict[int, int] = {}
    answers = [script.choose("/v1/completions", "m", "p", uses).text for _ in range(4)]
    assert answers == ["first", "first", "later", "later"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rulez": []}, "unknown key 'rulez'"),
        ({"rules": [{"text": "a", "promt": "x"}]}, "rules[0]: unknown key 'promt'"),
        ({"rules": [{"prompt": "x"}]}, "exactly one of text"),
        ({"rules": [{"text": "a", "texts": ["b"]}]}, "exactly one of text"),
        ({"rules": [{"text": "a", "prompt": "("}]}, "not a valid regular expression"),
        ({"rules": [{"text": "a", "times": 0}]}, "times must be a positive integer"),
        ({"rules": [{"text": "a", "logprobs": [{"Yes": 0.5}]}]}, "must be ≤ 0"),
        ({"rules": [{"text": "a", "honour_stop": "yes"}]}, "honour_stop must be true or false"),
        ({"rules": [{"texts": []}]}, "texts must be a non-empty list"),
        ({"default": {"text": "a", "prompt": "x"}}, "default reply cannot have"),
        ({"custom_route": {"route": "/v1/generate"}}, "route must start with /"),
        ({"custom_route": {"fields": {"inputs": "x"}}}, "unknown field 'inputs'"),
        ({"custom_route": {"fields": {"prompt": "inputs"}}}, "where 'text' is"),
        ({"models": "m"}, "models: must be a list"),
    ],
)
def test_bad_scripts_are_rejected_with_the_key_named(data: dict, message: str) -> None:
    with pytest.raises(ScriptError, match=message.replace("[", r"\[").replace("(", r"\(")):
        Script.from_dict(data)


def test_scripts_load_from_yaml_and_json_and_round_trip(tmp_path) -> None:
    yaml_file = tmp_path / "script.yaml"
    yaml_file.write_text(
        "models: [gen, ver]\n"
        "rules:\n"
        "  - prompt: Does\n"
        "    text: 'Yes'\n"
        "    logprobs: [{'Yes': -0.05, 'No': -3.2}]\n"
        "default: {text: nothing}\n",
        encoding="utf-8",
    )
    script = Script.load(yaml_file)
    assert script.models == ["gen", "ver"]
    assert script.rules[0].logprobs == [{"Yes": -0.05, "No": -3.2}]
    assert script.default.text == "nothing"
    json_file = tmp_path / "script.json"
    json_file.write_text(json.dumps(script.to_dict()), encoding="utf-8")
    assert Script.load(json_file) == script


def test_unreadable_or_invalid_script_files_say_which_file(tmp_path) -> None:
    with pytest.raises(ScriptError, match="cannot read script file"):
        Script.load(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(ScriptError, match=r"broken\.yaml is not valid"):
        Script.load(broken)


def test_the_shipped_example_script_is_valid_and_answers_the_verifier() -> None:
    from pathlib import Path

    import evolution.testserver

    script = Script.load(Path(evolution.testserver.__file__).parent / "example.yaml")
    uses: dict[int, int] = {}
    verifier = script.choose("/v1/chat/completions", "qwen2.5-coder-14b-instruct", "Does it?", uses)
    assert verifier.text == "Yes" and verifier.logprobs == [{"Yes": -0.05, "No": -3.2}]
    generator = script.choose("/v1/chat/completions", "qwen2.5-coder-32b-instruct", "x", uses)
    assert "def test_add" in (generator.text or "")
