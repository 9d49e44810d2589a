"""The exceptions of the model runtime.

Every message says what happened, where it looked and what the user can do::

    ModelError
    ├── ModelNotFoundError    no model under any of the places a reference can point to
    ├── ModelLoadError        a model folder exists but cannot be loaded (no weights, bad config)
    ├── UnsupportedError      the request needs something this machine or backend lacks
    ├── InvalidRequestError   bad arguments (also a ValueError)
    └── RemoteBackendError    the OpenAI-compatible server is unreachable or answered badly
"""

from __future__ import annotations


class ModelError(Exception):
    """Base of every error raised by ``models``."""


class ModelNotFoundError(ModelError):
    """The model reference matches no folder, weights-folder entry or Hugging Face cache entry."""

    def __init__(self, message: str, *, looked_in: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.looked_in = looked_in


class ModelLoadError(ModelError):
    """A model folder was found but its files cannot be loaded."""


class UnsupportedError(ModelError):
    """The request needs a device, library or backend feature that is not available."""


class InvalidRequestError(ModelError, ValueError):
    """Arguments out of range (sampling parameters, prompts, positions)."""


class RemoteBackendError(ModelError):
    """The remote completion server could not be reached or gave an unusable answer."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
