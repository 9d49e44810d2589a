"""package.json's settings schema and the server's settings tree agree, and parsing is safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.settings import SECTION, Settings, flatten, leaves, parse_settings

PACKAGE_JSON = Path(__file__).resolve().parents[2] / "package.json"
JSON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}


def _schema() -> dict[str, dict]:
    manifest = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    properties = manifest["contributes"]["configuration"]["properties"]
    return {key.removeprefix(f"{SECTION}."): spec for key, spec in properties.items()}


def test_every_package_json_setting_is_in_the_tree_with_the_same_schema():
    tree = {leaf.key: leaf for leaf in leaves()}
    for key, spec in _schema().items():
        assert key in tree, f"{SECTION}.{key} is in package.json but not in server/settings.py"
        leaf = tree[key]
        assert leaf.type is JSON_TYPES[spec["type"]], key
        assert leaf.default == spec["default"], key
        assert type(leaf.default) is leaf.type, f"{key}: default {leaf.default!r}"
        assert leaf.choices == (tuple(spec["enum"]) if "enum" in spec else None), key
        assert leaf.minimum == spec.get("minimum"), key
        assert leaf.maximum == spec.get("maximum"), key
        assert spec.get("markdownDescription") or spec.get("description"), key


def test_every_tree_setting_is_in_package_json():
    schema = _schema()
    missing = [leaf.key for leaf in leaves() if leaf.key not in schema]
    assert not missing, f"in server/settings.py but not in package.json: {missing}"


def test_nested_flat_and_wrapped_forms_parse_alike():
    nested = {"completion": {"debounceMs": 0, "openDocuments": False}, "model": "/m"}
    flat = {"completion.debounceMs": 0, "completion.openDocuments": False, "model": "/m"}
    wrapped = {"evoselfcode": nested}
    results = [parse_settings(raw).settings for raw in (nested, flat, wrapped)]
    assert results[0] == results[1] == results[2]
    assert results[0].completion.debounce_ms == 0
    assert results[0].completion.open_documents is False
    assert results[0].model == "/m"
    assert flatten({"evoselfcode.chat.topP": 0.5}) == {"chat.topP": 0.5}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"completion": {"debounceMs": -5}}, "at least 0"),
        ({"completion": {"debounceMs": 1.5}}, "whole number"),
        ({"completion": {"debounceMs": "fast"}}, "must be a number"),
        ({"completion": {"enabled": "yes"}}, "true or false"),
        ({"completion": {"maxTokens": True}}, "must be a number"),
        ({"device": "tpu"}, "one of auto, cpu, cuda, mps"),
        ({"chat": {"topP": 2}}, "at most 1"),
        ({"model": 3}, "must be a string"),
        ({"noSuchSetting": 1}, "unknown setting evoselfcode.noSuchSetting"),
    ],
)
def test_an_invalid_value_is_reported_and_the_previous_value_kept(raw, words):
    previous = parse_settings({"completion": {"debounceMs": 20}, "model": "mine"}).settings
    parsed = parse_settings(raw, previous)
    assert parsed.settings == previous
    assert parsed.changed == []
    assert len(parsed.problems) == 1
    assert words in parsed.problems[0]


def test_good_values_around_a_bad_one_still_apply_and_changes_are_listed():
    parsed = parse_settings(
        {"completion": {"temperature": "hot", "maxTokens": 16}, "dtype": "float32"}
    )
    assert parsed.settings.completion.max_tokens == 16
    assert parsed.settings.completion.temperature == 0.0
    assert parsed.settings.dtype == "float32"
    assert sorted(parsed.changed) == ["completion.maxTokens", "dtype"]
    assert parse_settings({"dtype": "float32"}, parsed.settings).changed == []


def test_numbers_are_converted_to_the_field_type_and_garbage_is_refused():
    parsed = parse_settings({"completion": {"debounceMs": 40.0, "temperature": 1}})
    assert parsed.settings.completion.debounce_ms == 40
    assert isinstance(parsed.settings.completion.debounce_ms, int)
    assert isinstance(parsed.settings.completion.temperature, float)
    assert parse_settings(["not", "an", "object"]).problems
    assert parse_settings(None).settings == Settings()
    assert parse_settings({"completion": {"topP": float("nan")}}).problems
