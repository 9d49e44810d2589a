"""Which workspace files are held out, by path alone: never lines of a trained file.

A completion adapter trained on some of a file's lines and scored on its other lines would be
scored on what it memorised around them; the gate (issue 15, item 4) must score it on files it
never saw. A file is held out when the SHA-256 of its relative path falls below the share, so
the choice does not depend on the file's content, on the order of the scan or on the run, and
a held-out file stays held out as the workspace grows. Changing this hash moves files between
the two sides and so voids every earlier gate: keep it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

HELDOUT_SHARE = 0.1
# Fewer held-out files than this leaves the gate nothing to compare (records.MIN_HELDOUT says
# the same of pairs); a workspace of one file holds none out.
MIN_HELDOUT_FILES = 2


def split_point(path: str) -> float:
    """Where ``path`` falls in [0, 1): below the share means held out."""
    digest = hashlib.sha256(path.encode("utf-8", errors="surrogatepass")).hexdigest()
    return int(digest[:12], 16) / float(1 << 48)


def split_by_path(
    paths: Iterable[str], heldout_share: float = HELDOUT_SHARE
) -> tuple[list[str], list[str]]:
    """``(train, held_out)``, each sorted. Where the share holds out fewer than
    ``MIN_HELDOUT_FILES`` (a small workspace), the paths with the lowest split points are
    added, and at least one path always stays for training: still independent of order, and
    the first ones a larger workspace would hold out."""
    if not 0.0 <= heldout_share < 1.0:
        raise ValueError(f"heldout_share must be in [0, 1), got {heldout_share}")
    ordered = sorted(set(paths), key=split_point)
    count = sum(1 for path in ordered if split_point(path) < heldout_share)
    if heldout_share > 0:
        count = max(count, min(MIN_HELDOUT_FILES, len(ordered) - 1))
    return sorted(ordered[count:]), sorted(ordered[:count])
