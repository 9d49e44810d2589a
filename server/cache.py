"""Recent suggestions, so asking again or typing through one costs no model call.

An entry is keyed by the document window: the uri, the exact text after the cursor and the
end of the text before the cursor. Other open files are left out of the key on purpose: which
of them make the prompt depends on the text being typed (near-duplicates are dropped), and a
suggestion typed through must stay valid while the user types it. A lookup hits when the
current prefix is that prefix plus the first ``n`` characters of the suggestion (n >= 0):
the answer is the rest of the suggestion (Tabby's "forwarding" cache, without precomputing
an entry per character). A filtered result is kept too, for exact repeats only (greedy
decoding would give the same junk again). Settings and model changes clear the cache.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
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


@dataclass(frozen=True)
class _Entry:
    key: str
    prefix_tail: str
    suggestion: Suggestion | Filtered


class CompletionCache:
    def __init__(self, capacity: int = 128):
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, window: InfillWindow, suggestion: Suggestion | Filtered) -> None:
        entry = _Entry(window_key(window), window.prefix[-PREFIX_TAIL:], suggestion)
        text = suggestion.text if isinstance(suggestion, Suggestion) else ""
        slot = (entry.key, entry.prefix_tail, text)
        with self._lock:
            self._entries[slot] = entry
            self._entries.move_to_end(slot)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def get(self, window: InfillWindow) -> Suggestion | Filtered | None:
        """The cached suggestion (or the rest of it) for this window, if any."""
        key, prefix = window_key(window), window.prefix
        with self._lock:
            for slot in reversed(self._entries):
                entry = self._entries[slot]
                if entry.key != key:
                    continue
                rest = _remainder(entry, prefix)
                if rest is not None:
                    self._entries.move_to_end(slot)
                    return rest
        return None

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
