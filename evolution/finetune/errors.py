"""Exceptions of ``evolution.finetune``.

Messages say what happened, where it looked and what the user can do; the CLI prints them as
one line (and an ``{"event": "error"}`` JSON line) and exits with :attr:`FinetuneError.exit_code`.
"""

from __future__ import annotations


class FinetuneError(Exception):
    """Base of every error raised by the fine-tuning package."""

    exit_code = 1


class ConfigError(FinetuneError, ValueError):
    """A configuration field has a bad value; the message names the field and the value."""

    exit_code = 2


class DataError(FinetuneError):
    """The training data cannot be used: missing, empty, too small, or every record too long."""

    exit_code = 3


class SavePathExists(FinetuneError):
    """The save path already holds a run; pass ``--resume`` or ``--overwrite``."""

    exit_code = 4


class CheckpointError(FinetuneError):
    """A checkpoint is incomplete or corrupt (missing file, checksum mismatch, unreadable)."""


class ResumeError(FinetuneError):
    """Nothing to resume, or the resumed run does not match the flags given now."""

    exit_code = 4


class TrainingOutOfMemory(FinetuneError):
    """The device ran out of memory; the message names the settings to lower."""

    exit_code = 5


class UnsupportedSetup(FinetuneError):
    """A requested feature is not available here (e.g. 4-bit QLoRA without CUDA)."""

    exit_code = 2


class RegistryError(FinetuneError):
    """The adapter registry cannot be read or updated."""


class AdapterNotFound(RegistryError):
    """No adapter with that id in the registry."""


class RegistryLocked(RegistryError):
    """Another process held the registry lock for too long."""


class PromotionRefused(RegistryError):
    """A manual promotion refused: e.g. an adapter the gate rejected, without --force."""


class EvaluationUnavailable(FinetuneError):
    """The promotion gate could not run its pass-rate comparison."""
