"""Recent suggestions, so asking again or typing through one costs no model call.

An entry is keyed by the document window: the uri, the exact text after the cursor and the
end of the text before the cursor. Other open files are left out of the key on purpose: which
of them make the prompt depends on the text being typed (near-duplicates are dropped), and a
suggestion typed through must stay valid while the user types it. A lookup hits when the
current prefix is that prefix plus the first ``n`` characters of the suggestion (n >= 0):
the answer is the rest of the suggestion (Tabby's "forwarding" cache, without precomputing
an entry per character). A filtered result is kept too, for exact repeats only (greedy
decoding would give the same junk again). Settings and model changes clear the cache.

Several entries may answer one window (the candidates of one request, or a suggestion and a
sampled one): ``lookup`` returns them all, newest first. An entry put by a prefetch says so
until it first answers a request (``CacheHit.prefetch_used``), which the status counts.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from server.context import InfillWindow
from server.postprocess import Filtered, Suggestion

# The end of the prefix that must match. The suffix and the uri pin the place in the file;
# this pins what was typed just before it.
PREFIX_TAIL = 1024


def _digest(*parts: str) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        hasher.update(part.encode("utf-8", "surrogatepass"))
        hasher.update(b"\0")
    return hasher.hexdigest()


def window_key(window: InfillWindow) -> str:
    """What besides the prefix must be equal: the document and the text after the cursor."""
    return _digest(window.uri, window.suffix)


def same_window(a: InfillWindow, b: InfillWindow) -> bool:
    """True when what is put for ``a`` answers ``b`` as it is (not typed through)."""
    return window_key(a) == window_key(b) and _same_prefix(b.prefix, a.prefix[-PREFIX_TAIL:])


@dataclass
class _Entry:
    key: str
    prefix_tail: str
    suggestion: Suggestion | Filtered
    prefetched: bool = False  # put by a prefetch and not yet used


@dataclass(frozen=True)
class CacheHit:
    """What the cache holds for a window: suggestions newest first, or a filtered result."""

    suggestions: tuple[Suggestion, ...] = ()
    filtered: Filtered | None = None
    prefetch_used: bool = False  # the first use of an entry a prefetch put


class CompletionCache:
    def __init__(self, capacity: int = 128):
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def put(
        self, window: InfillWindow, suggestion: Suggestion | Filtered, *, prefetched: bool = False
    ) -> None:
        entry = _Entry(window_key(window), window.prefix[-PREFIX_TAIL:], suggestion, prefetched)
        text = suggestion.text if isinstance(suggestion, Suggestion) else ""
        slot = (entry.key, entry.prefix_tail, text)
        with self._lock:
            self._entries[slot] = entry
            self._entries.move_to_end(slot)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def put_all(
        self, window: InfillWindow, suggestions: Sequence[Suggestion], *, prefetched: bool = False
    ) -> None:
        """Keep several suggestions for one window; ``lookup`` returns them in this order."""
        for suggestion in reversed(suggestions):
            self.put(window, suggestion, prefetched=prefetched)

    def get(self, window: InfillWindow) -> Suggestion | Filtered | None:
        """The newest cached suggestion (or the rest of it) for this window, if any."""
        hit = self.lookup(window)
        if hit is None:
            return None
        return hit.filtered or hit.suggestions[0]

    def lookup(self, window: InfillWindow, *, use: bool = True) -> CacheHit | None:
        """Every cached suggestion (or the rest of it) for this window, newest first and each
        text once; or the filtered result when that is the newest; None when nothing fits.
        ``use=False`` only looks: nothing counts as used or recently used."""
        key, prefix = window_key(window), window.prefix
        found: list[Suggestion] = []
        slots: list[tuple[str, str, str]] = []
        prefetch_used = False
        with self._lock:
            for slot in reversed(self._entries):
                entry = self._entries[slot]
                if entry.key != key:
                    continue
                rest = _remainder(entry, prefix)
                if rest is None or (isinstance(rest, Filtered) and found):
                    continue
                if isinstance(rest, Filtered):
                    if use:
                        self._entries.move_to_end(slot)
                    return CacheHit(filtered=rest)
                slots.append(slot)
                if rest not in found:
                    found.append(rest)
                prefetch_used |= entry.prefetched
            if use:
                for slot in reversed(slots):  # in order, now the most recently used
                    self._entries[slot].prefetched = False
                    self._entries.move_to_end(slot)
        return CacheHit(tuple(found), prefetch_used=prefetch_used) if found else None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _same_prefix(prefix: str, tail: str) -> bool:
    # A tail shorter than PREFIX_TAIL is the whole prefix (the cursor was near the top).
    return prefix.endswith(tail) if len(tail) == PREFIX_TAIL else prefix == tail


def _remainder(entry: _Entry, prefix: str) -> Suggestion | Filtered | None:
    suggestion, tail = entry.suggestion, entry.prefix_tail
    if _same_prefix(prefix, tail):
        return suggestion
    if isinstance(suggestion, Filtered):
        return None
    text = suggestion.text
    # Typed through: prefix == old prefix + text[:typed]; try each typed length that ends
    # with the last character typed.
    last = prefix[-1:]
    for typed in range(1, len(text)):
        if text[typed - 1] != last:
            continue
        if prefix.endswith(text[:typed]) and _same_prefix(prefix[: len(prefix) - typed], tail):
            rest = text[typed:]
            if rest.strip():
                return Suggestion(rest, suggestion.replace_after)
    return None
