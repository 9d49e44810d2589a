"""The config file: the shipped defaults, and errors that name the bad key and value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evolution.datagen import ConfigError, DatagenConfig, load_config

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_holds_exactly_the_defaults() -> None:
    assert load_config(REPO / "configs" / "datagen.yaml") == DatagenConfig()
    # Every key of every section is written out, so the file documents all of them.
    data = yaml.safe_load((REPO / "configs" / "datagen.yaml").read_text())
    defaults = DatagenConfig().to_dict()
    assert set(data) == set(defaults)
    for section, values in defaults.items():
        assert set(data[section]) == set(values), section


def test_the_design_defaults() -> None:
    config = DatagenConfig()
    namegen = config.namegen
    assert (namegen.temperature, namegen.top_p, namegen.max_tokens, namegen.n) == (0.4, 0.9, 16, 4)
    assert namegen.stop == ["(", " ", "\n"]
    assert config.prompts.global_prefix == "This is an algorithm function.\n\n"
    assert config.api.base_url == "http://127.0.0.1:8000/v1"  # a placeholder, not a cluster
    assert config.io.out_names_dir == "data/generated/names"
    assert config.io.out_code_dir == "data/generated/code"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"namegen": {"tempreature": 0.5}},
            "namegen.tempreature: unknown key; did you mean 'temperature'?",
        ),
        ({"namegen": {"max_new_tokens": 8}}, "did you mean 'max_tokens'?"),
        ({"apii": {}}, "apii: unknown key; did you mean 'api'?"),
        ({"filters": {"scoring": {"enabeld": True}}}, "filters.scoring.enabeld: unknown key"),
        ({"namegen": {"temperature": "hot"}}, "namegen.temperature must be a number, got 'hot'"),
        ({"io": {"concurrency": True}}, "io.concurrency must be an integer, got True"),
        ({"io": {"concurrency": 2.5}}, "io.concurrency must be an integer, got 2.5"),
        ({"io": {"concurrency": 0}}, "io.concurrency must be ≥ 1, got 0"),
        ({"namegen": {"top_p": 0}}, "namegen.top_p must be > 0, got 0.0"),
        ({"namegen": {"stop": "("}}, "namegen.stop must be a list, got '('"),
        ({"namegen": {"stop": ["(", 3]}}, "namegen.stop[1] must be a string, got 3"),
        ({"namegen": {"stop": ["", "("]}}, "namegen.stop holds an empty string"),
        ({"namegen": {"arms": ["FIM", "RTL"]}}, "namegen.arms[1] must be one of 'FIM', 'L2R'"),
        ({"namegen": {"arms": ["FIM", "FIM"]}}, "namegen.arms lists an arm twice"),
        ({"namegen": {"arms": []}}, "namegen.arms must not be empty"),
        ({"api": {"headers": ["x"]}}, "api.headers must be a mapping, got ['x'] (a list)"),
        ({"api": {"headers": {"X-Id": 7}}}, "api.headers must map strings to strings"),
        ({"api": {"mode": "grpc"}}, "api.mode must be one of 'openai', 'endpoint'"),
        ({"api": {"base_url": "cluster.local"}}, "api.base_url must start with http://"),
        ({"api": {"model": ""}}, "api.model must not be empty"),
        ({"api": {"route": "/generate"}}, "api.route applies to mode 'endpoint' only"),
        (
            {"api": {"mode": "endpoint", "field_map": {"prompt": "inputs", "txt": "out"}}},
            "api.field_map: unknown field 'txt'",
        ),
        (
            {"api": {"mode": "endpoint", "field_map": {"prompt": "inputs"}}},
            "api.field_map must say where 'text' goes",
        ),
        (
            {"api": {"mode": "endpoint"}, "filters": {"scoring": {"enabled": True}}},
            "filters.scoring.enabled needs api.mode 'openai'",
        ),
        ({"filters": {"name_regex": "([a-z"}}, "filters.name_regex '([a-z' is not a valid"),
        ({"io": None, "namegen": 3}, "namegen must be a mapping of keys, got 3"),
        ([1, 2], "the file must be a mapping of keys, got [1, 2]"),
    ],
)
def test_bad_values_are_named_with_their_dotted_key(tmp_path, data, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_unreadable_files_are_reported(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the config file .*missing\.yaml"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("api: {base_url: [\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml is not valid YAML"):
        load_config(broken)


def test_an_empty_file_means_every_default(tmp_path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_config(path) == DatagenConfig()


def test_header_values_come_from_the_environment_and_keys_stay_hidden(monkeypatch) -> None:
    config = DatagenConfig.from_mapping(
        {"api": {"headers": {"X-Api-Key": "${DATAGEN_TEST_TOKEN}", "X-Team": "nlp"}}}
    )
    monkeypatch.setenv("DATAGEN_TEST_TOKEN", "tok-123")
    monkeypatch.setenv("EVOSELFCODE_GENERATOR_API_KEY", "sk-secret-456")
    client_config = config.api.client_config(concurrency=4)
    assert client_config.headers["X-Team"] == "nlp"
    assert client_config.headers["X-Api-Key"].reveal() == "tok-123"  # type: ignore[union-attr]
    key = client_config.resolved_api_key()
    assert key is not None and key.reveal() == "sk-secret-456"
    shown = repr(client_config) + repr(config)
    assert "tok-123" not in shown and "sk-secret-456" not in shown
    monkeypatch.delenv("DATAGEN_TEST_TOKEN")
    with pytest.raises(ConfigError, match=r"api.headers.X-Api-Key refers to \$\{DATAGEN_TEST"):
        config.api.client_config(concurrency=4)
