"""Judging one generated function name: what it is, and whether it is kept.

A completion becomes a candidate by cutting it at the model's control tokens and at the stop
sequences (in case the server ignored them), then stripping whitespace. Python reads
identifiers in NFKC form (``ｆｏｏ`` *is* ``foo``), so the checks and the deduplication key use
that form. The first failing check is the reason a candidate is dropped:

    empty        nothing left (e.g. the model's first character was a stop sequence)
    truncated    the completion hit max_tokens: the name may be cut
    not_identifier  not a Python identifier (``def class``, ``3sum``, ``a-b``, zero-width space)
    keyword      a keyword (``def``, ``class``, ``lambda``)
    style        does not match ``filters.name_regex`` (snake_case, 3-64 ASCII characters
                 by default: non-ASCII names fail here and are also counted as ``non_ascii``)
    builtin      shadows a builtin (``sorted``, ``max``), when ``filters.reject_builtins``
    weak         on the weak-name list once trailing digits and underscores are removed
                 (``func``, ``func2``, ``test_``)
    benchmark    the entry point of a benchmark task (``has_close_elements``): a leak

"compliant" means the first five checks passed (a valid identifier in the wanted style).
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass

REASONS = (
    "empty",
    "truncated",
    "not_identifier",
    "keyword",
    "style",
    "builtin",
    "weak",
    "benchmark",
)
_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))


@dataclass(frozen=True)
class NameVerdict:
    """What a completion says as a name. ``reason`` is None when the name is kept."""

    name: str  # the candidate, NFKC-normalised
    reason: str | None
    compliant: bool
    non_ascii: bool = False  # as the model wrote it (``ｆｏｏ`` is non-ASCII, its name ``foo``)

    @property
    def kept(self) -> bool:
        return self.reason is None


class NameFilter:
    """The name checks of one run (build once: the regex and lists are prepared here)."""

    def __init__(
        self,
        *,
        name_regex: str,
        weaklist: Collection[str],
        benchmark_names: Collection[str],
        stops: Sequence[str] = (),
        end_tokens: Sequence[str] = (),
        reject_builtins: bool = True,
    ) -> None:
        self._pattern = re.compile(name_regex)
        self._weak = frozenset(_weak_base(name) for name in weaklist)
        self._benchmark = frozenset(benchmark_names)
        self._cuts = tuple(s for s in (*end_tokens, *stops) if s)
        self._reject_builtins = reject_builtins

    def candidate(self, text: str) -> str:
        """The name a completion proposes: cut at control tokens and stops, stripped."""
        cut = min((i for i in (text.find(s) for s in self._cuts) if i >= 0), default=len(text))
        return text[:cut].strip()

    def judge(self, text: str, finish_reason: str | None = None) -> NameVerdict:
        written = self.candidate(text)
        name = unicodedata.normalize("NFKC", written)
        non_ascii = not written.isascii()
        reason = self._first_failure(name, finish_reason)
        compliant = reason is None or REASONS.index(reason) > REASONS.index("style")
        return NameVerdict(name, reason, compliant, non_ascii)

    def _first_failure(self, name: str, finish_reason: str | None) -> str | None:
        if not name:
            return "empty"
        if finish_reason == "length":
            return "truncated"
        if not name.isidentifier():
            return "not_identifier"
        if keyword.iskeyword(name):
            return "keyword"
        if not self._pattern.fullmatch(name):
            return "style"
        if self._reject_builtins and name in _BUILTINS:
            return "builtin"
        if _weak_base(name) in self._weak:
            return "weak"
        if name in self._benchmark:
            return "benchmark"
        return None

    def is_weak(self, name: str) -> bool:
        return _weak_base(name) in self._weak

    def is_benchmark(self, name: str) -> bool:
        return name in self._benchmark


def _weak_base(name: str) -> str:
    """``Func_2`` -> ``func``: the name without case, trailing digits and underscores."""
    return name.lower().rstrip("0123456789_") or name.lower()
