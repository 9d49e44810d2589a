"""FinetuneConfig: validation that names the field and value, flags from metadata, settings."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from evolution.finetune.cli_options import (
    add_config_arguments,
    config_from_args,
    overrides_to_argv,
)
from evolution.finetune.config import ALL_LINEAR_PROJECTIONS, FinetuneConfig
from evolution.finetune.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("changes", "field_name", "shown"),
    [
        ({"lora_rank": 0}, "lora_rank", "0"),
        ({"learning_rate": 0.0}, "learning_rate", "0.0"),
        ({"learning_rate": float("nan")}, "learning_rate", "nan"),
        ({"batch_size": 2.5}, "batch_size", "2.5"),
        ({"epochs": "3"}, "epochs", "'3'"),
        ({"packing": 1}, "packing", "1"),
        ({"device": "tpu"}, "device", "'tpu'"),
        ({"fim_share": 1.5}, "fim_share", "1.5"),
        ({"max_length": 8}, "max_length", "8"),
        ({"eval_share": 0.0}, "eval_share", "0.0"),
        ({"target_modules": []}, "target_modules", ""),
        ({"gate_infill_tasks": -1}, "gate_infill_tasks", "-1"),
        ({"infill_margin": -0.01}, "infill_margin", "-0.01"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field_and_the_value(changes, field_name, shown):
    with pytest.raises(ConfigError) as caught:
        FinetuneConfig.from_mapping(changes)
    assert field_name in str(caught.value)
    assert shown in str(caught.value)


def test_defaults_train_lora_on_every_linear_projection():
    config = FinetuneConfig()
    assert config.target_modules == ALL_LINEAR_PROJECTIONS
    assert set(config.target_modules) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }


def test_settings_keys_in_camel_case_map_to_fields_and_typos_are_errors():
    config = FinetuneConfig.from_mapping({"learningRate": 1e-4, "loraRank": 8, "fimShare": 0.5})
    assert (config.learning_rate, config.lora_rank, config.fim_share) == (1e-4, 8, 0.5)
    with pytest.raises(ConfigError, match="lerning_rate"):
        FinetuneConfig.from_mapping({"lerning_rate": 1e-4})


def test_the_defaults_agree_with_the_settings_schema_in_package_json():
    manifest = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    properties = manifest["contributes"]["configuration"]["properties"]
    settings = {
        key.removeprefix("evoselfcode.finetune."): spec["default"]
        for key, spec in properties.items()
        if key.startswith("evoselfcode.finetune.")
    }
    assert len(settings) >= 5, "package.json declares no evoselfcode.finetune.* settings"
    # Each setting maps to a field (a typo would raise) and its default is the field's default.
    assert FinetuneConfig.from_mapping(settings) == FinetuneConfig()


def test_every_field_has_help_text_and_a_flag():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    text = parser.format_help()
    for f in dataclasses.fields(FinetuneConfig):
        assert f.metadata["help"], f.name
        assert "--" + f.name.replace("_", "-") in text
    # A literal % in a help text is shown as written, not read as a format (it once printed
    # argparse's internal dict in the middle of --help).
    assert "~30% slower (default: False)" in " ".join(text.split())
    assert "option_strings" not in text


def test_flags_override_a_config_file_and_only_given_flags_count(tmp_path: Path):
    file = tmp_path / "ft.yaml"
    file.write_text("finetune:\n  epochs: 5\n  lora_rank: 4\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", dest="config_file")
    add_config_arguments(parser)
    config = config_from_args(parser.parse_args(["--config", str(file), "--lora-rank", "32"]))
    assert config.epochs == 5
    assert config.lora_rank == 32
    assert config.learning_rate == FinetuneConfig().learning_rate


def test_a_config_file_with_a_bad_value_names_it(tmp_path: Path):
    file = tmp_path / "ft.yaml"
    file.write_text("batch_size: -1\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", dest="config_file")
    add_config_arguments(parser)
    with pytest.raises(ConfigError, match="batch_size"):
        config_from_args(parser.parse_args(["--config", str(file)]))


def test_server_overrides_become_flags_that_parse_back_to_the_same_config():
    overrides = {"learningRate": 1e-4, "packing": False, "targetModules": ["q_proj", "v_proj"]}
    argv = overrides_to_argv(overrides)
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    config = config_from_args(parser.parse_args(argv))
    assert config == FinetuneConfig.from_mapping(overrides)
    with pytest.raises(ConfigError, match="batch_size"):
        overrides_to_argv({"batchSize": 0})


def test_the_shipped_defaults_file_matches_the_dataclass():
    import yaml

    shipped = yaml.safe_load((REPO / "configs" / "finetune.yaml").read_text(encoding="utf-8"))
    assert FinetuneConfig.from_mapping(shipped["finetune"]) == FinetuneConfig()
    assert set(shipped["finetune"]) == {f.name for f in dataclasses.fields(FinetuneConfig)}
