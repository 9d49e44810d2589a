"""Errors of the scripted test server (bad scripts and fault specifications)."""

from __future__ import annotations


class ScriptedServerError(Exception):
    """Base class of the test server's errors."""


class ScriptError(ScriptedServerError, ValueError):
    """A script (rules, default reply, custom route) is malformed; the message names the key."""


class FaultSpecError(ScriptedServerError, ValueError):
    """A fault specification is malformed; the message names the field and the bad value."""
