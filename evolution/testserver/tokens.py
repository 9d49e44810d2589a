"""The test server's stand-in tokenizer and its deterministic log-probabilities.

Real servers tokenize with the model's BPE; the test server only needs something stable and
reversible: a token is a run of word characters or one other character, each with the
whitespace before it (``"\\n    return"`` is one token). Concatenating the tokens of a text
gives the text back. A token's log-probability, unless a rule scripts it, is a fixed function
of the token (``default_logprob``), so tests can compute the expected scores themselves.
"""

from __future__ import annotations

import re
import zlib

_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens whose concatenation is ``text``."""
    return _TOKEN.findall(text)


def default_logprob(token: str) -> float:
    """The log-probability the server reports for ``token`` when no rule scripts one: in (-4, 0]."""
    return -(zlib.crc32(token.encode("utf-8")) % 4000) / 1000.0
