"""Errors of the data-generation pipeline.

    DatagenError
    ├── ConfigError        the config file is unreadable, or a key is unknown or has a bad value
    │                      (the message names the dotted key, e.g. ``namegen.temperature``)
    ├── InputError         an input the run needs is missing or malformed (descriptions file,
    │                      names not generated yet, a bad ``--shard``), or a run folder holds
    │                      parts made with other settings
    ├── OutputError        writing failed (disk full, permissions); what was written before
    │                      stays valid and a rerun resumes
    └── RunLocked          another run is writing the same parts folder

Request failures are the clients' own exceptions (``evolution.clients.errors``); the runner
counts them per kind and stops the run on the ones that no retry can cure (unreachable
endpoint, refused key, rejected request).
"""

from __future__ import annotations


class DatagenError(Exception):
    """Base of every error raised by ``evolution.datagen``."""

    exit_code = 1


class ConfigError(DatagenError, ValueError):
    """A configuration key is unknown or has a value it cannot take."""

    exit_code = 2


class InputError(DatagenError):
    """An input of the run is missing or malformed; nothing was generated."""

    exit_code = 2


class OutputError(DatagenError):
    """An output could not be written; earlier output is intact and a rerun resumes."""


class RunLocked(DatagenError):
    """Another ``evoselfcode datagen`` process holds the parts folder."""
