"""Errors of the self-evolve flow.

    EvolveError
    ├── FunctionNotFound     no function at the cursor or in the selection
    ├── NotAccepted          record_accepted() was given a result the gates did not pass
    ├── InvalidSettings      a setting is out of range (names it and the value)
    └── InstructionsError    a batch instructions file cannot be read (line and reason given)

Network trouble with the generator or verifier is not raised from ``self_evolve``: it comes
back in ``EvolveResult.error`` (``status == "error"``), with the client's message.
"""

from __future__ import annotations


class EvolveError(Exception):
    """Base of every error raised by ``evolution.evolve``."""


class FunctionNotFound(EvolveError):
    """Nothing at the given position or selection can be taken as a function."""


class NotAccepted(EvolveError):
    """Only a result that passed every gate can be recorded as a training pair."""


class InvalidSettings(EvolveError, ValueError):
    """A self-evolve setting has a value it cannot take."""


class InstructionsError(EvolveError):
    """A batch instructions file is missing, unreadable, or has an invalid line."""
