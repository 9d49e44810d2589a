"""``FinetuneConfig``'s fields as command-line flags, built from the fields' own metadata.

Flags default to ``argparse.SUPPRESS`` so that only the flags a user gave reach the config:
they override ``--config FILE`` values, and a resumed run can tell whether they contradict it.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evolution.finetune.config import GROUPS, FinetuneConfig, camel_to_snake
from evolution.finetune.errors import ConfigError


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per config field, grouped as in ``config.GROUPS``, help text from metadata."""
    hints = typing.get_type_hints(FinetuneConfig)
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    defaults = FinetuneConfig()
    for f in dataclasses.fields(FinetuneConfig):
        kind = hints[f.name]
        default = getattr(defaults, f.name)
        shown = ",".join(default) if isinstance(default, tuple) else default
        kwargs: dict[str, Any] = {
            "dest": f.name,
            "default": argparse.SUPPRESS,
            # argparse formats help with %: a literal one ("~30% slower") must be doubled.
            "help": f"{f.metadata['help']} (default: {shown!r})".replace("%", "%%"),
        }
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind if kind in (int, float) else str
            kwargs["metavar"] = f.name.upper()
            if f.metadata["choices"]:
                kwargs["choices"] = f.metadata["choices"]
                kwargs.pop("metavar")
        groups[f.metadata["group"]].add_argument(flag_name(f.name), **kwargs)


def given_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the command line (and only those)."""
    names = {f.name for f in dataclasses.fields(FinetuneConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


def config_from_args(args: argparse.Namespace) -> FinetuneConfig:
    """Defaults, then ``--config FILE`` (YAML or JSON), then the flags given."""
    config = FinetuneConfig()
    if getattr(args, "config_file", None):
        config = FinetuneConfig.from_mapping(read_config_file(Path(args.config_file)))
    return FinetuneConfig.from_mapping(given_overrides(args), base=config)


def read_config_file(path: Path) -> Mapping[str, Any]:
    import yaml

    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"the config file {path} is not valid YAML: {exc}") from exc
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"the config file {path} must hold a mapping of settings")
    nested = values.get("finetune")  # a file may group the settings under "finetune:"
    return nested if isinstance(nested, Mapping) else values


def overrides_to_argv(overrides: Mapping[str, Any]) -> list[str]:
    """``{"learningRate": 1e-4, "packing": False}`` → ``--learning-rate 0.0001 --no-packing``.

    For the language server, which receives overrides in the settings' camelCase; the values
    are validated here, so a bad override fails before a process is started.
    """
    config = FinetuneConfig.from_mapping(overrides)
    argv: list[str] = []
    for key in overrides:
        name = camel_to_snake(key)
        value = getattr(config, name)
        if isinstance(value, bool):
            argv.append(flag_name(name) if value else "--no-" + name.replace("_", "-"))
        else:
            shown = ",".join(value) if isinstance(value, tuple) else str(value)
            argv += [flag_name(name), shown]
    return argv


def finetune_argv(
    overrides: Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    resume: bool = False,
    python: str | None = None,
) -> list[str]:
    """The command line that runs ``evoselfcode finetune`` as a child process of the server.

    Progress comes back as JSON lines on stdout (``--progress json``); SIGTERM stops the run
    cleanly (checkpoint, exit status 143) and ``resume=True`` continues it later.
    """
    import sys

    argv = [python or sys.executable, "-m", "server.cli", "finetune", "--progress", "json"]
    if data_dir:
        argv += ["--data-dir", str(data_dir)]
    if resume:
        argv.append("--resume")
    return argv + overrides_to_argv(overrides or {})
