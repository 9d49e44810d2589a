"""Accepted completions as training targets: what the user took from the model and kept.

The server logs every suggestion's outcome (``server/outcomes``: one JSON record per
suggestion in ``{dataDir}/outcomes/completions.jsonl``). A record becomes a target only when
the suggestion was accepted, whole or partly, was not reverted, kept at least
``MIN_RETAINED_SHARE`` of its characters at every retention check, and its accepted text is
still in the file as it is now, near where it was accepted. The middle is then that text, in
the file as the scan read it; prefix and suffix are what surrounds it today. Dismissed and
typed-over suggestions never become targets: they say what the user did not want.

A partial acceptance's record has the whole suggestion and the number of characters taken;
acceptance starts at the suggestion's start (or after characters the user typed by hand,
which match it), so the accepted text is taken to be the suggestion's first
``accepted_chars`` characters.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

TARGET_OUTCOMES = ("accepted", "partial")
# Copilot counts a suggestion as kept when most of it survives; a smaller share means the
# user rewrote it, and what they wrote instead is in the file's own examples anyway.
MIN_RETAINED_SHARE = 0.8
# How far (in lines) the accepted text may have moved since, through edits above it.
SEARCH_LINES = 200

RECORD_REASONS = {
    "dismissed": "dismissed: the user did not want it",
    "typed-over": "typed over: the user wrote something else",
    "reverted": "accepted, then undone or deleted",
    "not-retained": f"less than {MIN_RETAINED_SHARE:.0%} of the accepted characters left at a "
    "retention check",
    "not-measured": "no retention check ran (the server stopped first)",
    "not-a-file": "the document was not a file on disk (untitled, another scheme)",
    "outside-workspace": "the file lies outside this workspace folder",
    "file-not-used": "its file is not learned from here (skipped, dropped, or not Python)",
    "not-found": "the accepted text is no longer in the file near where it was accepted",
    "blank": "only whitespace was accepted",
    "duplicate": "the same text at the same place as another record's",
    "malformed": "the record lacks a field a target needs",
}


@dataclass(frozen=True)
class AcceptedTarget:
    """An accepted completion found in a workspace file: ``text[start:end] == middle``, where
    ``text`` is the file's ``WorkspaceFile.text``."""

    path: str
    start: int
    end: int
    middle: str
    outcome: str  # "accepted" or "partial"
    record_id: str

    def split(self, text: str) -> tuple[str, str, str]:
        """``(prefix, middle, suffix)`` of the file's text around this target."""
        return text[: self.start], text[self.start : self.end], text[self.end :]


@dataclass
class TargetSearch:
    targets: list[AcceptedTarget] = field(default_factory=list)  # by path, then offset
    not_used: Counter[str] = field(default_factory=Counter)  # RECORD_REASONS key -> records


def find_accepted_targets(
    records: Iterable[Mapping[str, Any]], root: str | os.PathLike[str], texts: Mapping[str, str]
) -> TargetSearch:
    """The targets of outcome ``records`` in the files ``texts`` (relative path -> the text
    the scan kept) of the workspace folder ``root``; each other record counted by reason."""
    search = TargetSearch()
    top = Path(root).resolve()
    seen: set[tuple[str, int, int]] = set()
    line_starts: dict[str, list[int]] = {}
    for record in records:
        found = _target_of(record, top, texts, line_starts)
        if isinstance(found, str):
            search.not_used[found] += 1
        elif (found.path, found.start, found.end) in seen:
            search.not_used["duplicate"] += 1
        else:
            seen.add((found.path, found.start, found.end))
            search.targets.append(found)
    search.targets.sort(key=lambda t: (t.path, t.start, t.end))
    return search


def read_outcome_log(data_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of the server's outcome log in ``data_dir``, oldest first.

    Read through the ``OutcomeLog`` the server writes with, so that the file names, the
    rotation and the schema version stay one fact in one place.
    """
    from evolution.store.outcomes import OutcomeLog, log_path

    outcome_log = OutcomeLog(log_path(Path(data_dir)))
    try:
        return outcome_log.read().records
    finally:
        outcome_log.close()


def _target_of(
    record: Mapping[str, Any],
    root: Path,
    texts: Mapping[str, str],
    line_starts: dict[str, list[int]],
) -> AcceptedTarget | str:
    """The record's target, or the reason (a ``RECORD_REASONS`` key) it has none."""
    outcome = record.get("outcome")
    if outcome not in TARGET_OUTCOMES:
        return outcome if outcome in ("dismissed", "typed-over") else "malformed"
    accepted = _accepted_text(record)
    if accepted is None:
        return "malformed"
    if record.get("reverted") is True:
        return "reverted"
    retention = _retention_problem(record)
    if retention:
        return retention
    path, problem = _workspace_path(record.get("uri"), root)
    if path is None:
        return problem
    if path not in texts:
        return "file-not-used"
    middle = _as_in_file(accepted)
    if not middle.strip():
        return "blank"
    text = texts[path]
    if path not in line_starts:
        line_starts[path] = _line_starts(text)
    starts = line_starts[path]
    start = _nearest(text, starts, middle, record.get("position"))
    if start is None:
        return "not-found"
    return AcceptedTarget(
        path, start, start + len(middle), middle, str(outcome), str(record.get("id", ""))
    )


def _accepted_text(record: Mapping[str, Any]) -> str | None:
    text, chars = record.get("text"), record.get("accepted_chars")
    if not isinstance(text, str) or not isinstance(chars, int) or chars <= 0:
        return None
    return text if record.get("outcome") == "accepted" else text[:chars]


def _retention_problem(record: Mapping[str, Any]) -> str | None:
    """Why the retention figures do not show the text kept, or None when they do."""
    chars = record["accepted_chars"]
    figures = [
        value
        for key, value in record.items()
        if key.startswith("retained_") and isinstance(value, (int, float))
    ]
    if not figures:
        return "not-measured"
    if min(figures) < MIN_RETAINED_SHARE * chars:
        return "not-retained"
    return None


def _workspace_path(uri: Any, root: Path) -> tuple[str | None, str]:
    """``(path relative to root, "/"-separated, "")``, or ``(None, the reason)``."""
    if not isinstance(uri, str):
        return None, "malformed"
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None, "not-a-file"
    try:
        relative = Path(url2pathname(parsed.path)).resolve().relative_to(root)
    except (OSError, ValueError):
        return None, "outside-workspace"
    return relative.as_posix(), ""


def _as_in_file(text: str) -> str:
    """The accepted text as it reads in a scanned file (``cleaning.normalise``'s rules): NFC,
    LF line ends, no blanks at line ends; blanks at its very end (the next line's indentation)
    are left to the suffix."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    return "\n".join([*(line.rstrip() for line in lines[:-1]), lines[-1].rstrip(" \t")])


def _line_starts(text: str) -> list[int]:
    starts = [0]
    index = text.find("\n")
    while index >= 0:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def _nearest(text: str, starts: list[int], middle: str, position: Any) -> int | None:
    """The offset of the occurrence of ``middle`` nearest the logged position, within
    ``SEARCH_LINES`` lines of it (the position is a hint: edits above may have moved it, and
    normalising the file drops its leading blank lines)."""
    place = position if isinstance(position, Mapping) else {}
    line, character = place.get("line"), place.get("character")
    line = line if isinstance(line, int) else 0
    character = character if isinstance(character, int) else 0
    if line - SEARCH_LINES >= len(starts):
        return None  # the file lost more lines than the window spans: not the same place
    low = starts[max(0, line - SEARCH_LINES)]
    high_line = line + SEARCH_LINES + 1
    high = starts[high_line] if high_line < len(starts) else len(text)
    line = min(max(line, 0), len(starts) - 1)
    line_end = starts[line + 1] - 1 if line + 1 < len(starts) else len(text)
    hint = min(starts[line] + max(character, 0), line_end)
    best = None
    index = text.find(middle, low)
    while 0 <= index <= high:
        if best is None or abs(index - hint) < abs(best - hint):
            best = index
        index = text.find(middle, index + 1)
    return best
