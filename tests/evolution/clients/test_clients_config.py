"""ClientConfig: validation that names the field, keys from the environment, file sections."""

from __future__ import annotations

import dataclasses

import pytest

from evolution.clients import ClientConfig, ClientConfigError, Secret


def test_the_editors_key_wins_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("EVOSELFCODE_GENERATOR_API_KEY", "from-env")
    from_env = ClientConfig(base_url="http://h/v1", api_key_env="EVOSELFCODE_GENERATOR_API_KEY")
    handed = ClientConfig(
        base_url="http://h/v1", api_key="from-editor", api_key_env="EVOSELFCODE_GENERATOR_API_KEY"
    )
    assert from_env.resolved_api_key() == Secret("from-env")
    assert handed.resolved_api_key() == Secret("from-editor")
    assert "from-editor" not in repr(handed) and "from-env" not in repr(from_env)
    assert "from-editor" not in repr(dataclasses.asdict(handed))


def test_credential_headers_are_wrapped_and_others_are_not() -> None:
    config = ClientConfig(
        base_url="http://h/v1/",
        headers={"Authorization": "Bearer t", "X-Auth-Token": "t2", "X-Team": "a"},
    )
    assert isinstance(config.headers["Authorization"], Secret)
    assert isinstance(config.headers["X-Auth-Token"], Secret)
    assert config.headers["X-Team"] == "a"
    assert config.base_url == "http://h/v1"
    assert config.url("chat/completions") == "http://h/v1/chat/completions"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"base_url": "localhost:8000"}, "base_url must start with http"),
        ({"timeout_s": 0}, "timeout_s must be > 0"),
        ({"max_retries": -1}, "max_retries must be ≥ 0"),
        ({"max_concurrency": 0}, "max_concurrency must be an integer ≥ 1"),
        ({"rate_limit_per_s": -5}, "rate_limit_per_s must be > 0"),
        ({"breaker_failures": 1.5}, "breaker_failures must be an integer"),
    ],
)
def test_bad_settings_name_the_field_and_value(fields: dict, message: str) -> None:
    with pytest.raises(ClientConfigError, match=message):
        ClientConfig(**{"base_url": "http://h/v1", "name": "generator", **fields})


def test_config_file_sections_refuse_unknown_keys_and_inline_keys() -> None:
    section = {"base_url": "http://h/v1", "model": "m", "timeout_s": 30, "headers": {"X-A": "1"}}
    assert ClientConfig.from_dict(section).timeout_s == 30
    with pytest.raises(ClientConfigError, match="api: unknown key 'base'"):
        ClientConfig.from_dict({"base": "http://h"})
    with pytest.raises(ClientConfigError, match=r"api\.api_key: keys are never stored"):
        ClientConfig.from_dict({"base_url": "http://h", "api_key": "sk-1"})
    with pytest.raises(ClientConfigError, match=r"api\.base_url is required"):
        ClientConfig.from_dict({"model": "m"})
