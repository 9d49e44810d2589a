"""Errors of the training-data store."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the training-data store raises."""


class InvalidRecord(StoreError):
    """A record cannot be stored as given (empty instruction or code, unknown source, ...)."""


class StoreWriteError(StoreError):
    """Appending to the store failed (disk full, permission denied, ...); nothing was recorded."""
