"""The exceptions of the evaluation package.

Every message says what happened, where it looked and what the user can do::

    EvaluationError
    ├── DatasetError             a dataset file or hub dataset is malformed or unknown
    │   └── DatasetNotAvailable  the dataset is not installed / not in the local cache
    ├── SamplesError             a samples file cannot be read at all (bad lines are only reported)
    ├── SandboxError             the sandbox cannot start or was used after close()
    ├── ResultsError             a results folder cannot be written or read
    └── GenerationError          the model could not produce completions
"""

from __future__ import annotations


class EvaluationError(Exception):
    """Base of every error raised by ``evaluation``."""


class DatasetError(EvaluationError, ValueError):
    """The dataset is unknown, malformed, or has lines that are not tasks."""


class DatasetNotAvailable(DatasetError):
    """The dataset exists in principle but is not installed or cached on this machine."""


class SamplesError(EvaluationError, ValueError):
    """The samples file cannot be opened, or holds no usable sample at all."""


class SandboxError(EvaluationError):
    """The sandbox's workers cannot start, or the sandbox was used after ``close()``."""


class ResultsError(EvaluationError):
    """A results folder cannot be written, or a stored summary cannot be read."""


class GenerationError(EvaluationError):
    """The model failed while generating completions."""
