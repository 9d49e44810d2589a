"""Why a completion request got no suggestion: every empty answer carries one of these."""

from __future__ import annotations

from enum import Enum


class EmptyReason(str, Enum):
    """The keys of ``completions.empty`` in ``evoselfcode/status``."""

    DISABLED = "disabled"  # evoselfcode.completion.enabled is false
    DEBOUNCED = "debounced"  # a newer keystroke arrived during the debounce wait
    CANCELLED = "cancelled"  # the client sent $/cancelRequest
    SUPERSEDED = "superseded"  # a newer request for the same document took over
    MODEL_LOADING = "model-loading"
    MODEL_FAILED = "model-failed"
    UNKNOWN_DOCUMENT = "unknown-document"  # never opened, or closed
    BAD_POSITION = "bad-position"  # outside the document
    ERROR = "error"  # generation raised; the log has the details
    FILTERED_EMPTY = "filtered:empty"  # nothing but whitespace
    FILTERED_SPECIAL_TOKENS = "filtered:special-tokens"  # only special tokens
    FILTERED_DUPLICATE = "filtered:duplicate"  # repeats the text after the cursor
    FILTERED_SYNTAX = "filtered:syntax"  # made the file parse worse

    def __str__(self) -> str:
        return self.value
