"""The held-out files of a trained model, found again on this machine.

A model folder made by ``evoselfcode pretrain`` lists the files it never trained on in
``heldout.json`` as ``source:relative/path`` with the SHA-256 of the text as trained on (and
the files it trained on, the same way, in ``data_manifest.json``). Here
each one is looked up under this interpreter's roots (its standard library, its
site-packages) and kept only when its text still hashes the same: a file of another Python
version or package release might have been trained on in another form.
"""

from __future__ import annotations

import json
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from evolution.pretrain.cleaning import normalise
from evolution.pretrain.data import HELDOUT_LIST, MANIFEST
from evolution.pretrain.dedup import text_sha256


@dataclass(frozen=True)
class HeldoutFiles:
    files: list[tuple[str, str]]  # (source:path, text as trained on) that match their hash
    listed: int
    missing: int  # not found under this machine's roots
    changed: int  # found, but with other text
    what: str = "held-out"  # which listing: "held-out" or "training"

    def describe(self) -> str:
        return (
            f"{len(self.files)} of the {self.listed} {self.what} files found unchanged "
            f"({self.missing} missing, {self.changed} changed on this machine)"
        )


def heldout_files(model_dir: str | Path) -> HeldoutFiles:
    """The model's held-out files present here with the hash it recorded."""
    return listed_files(model_dir, HELDOUT_LIST)


def training_files(model_dir: str | Path) -> HeldoutFiles:
    """The files the model trained on (its ``data_manifest.json``), found here the same way:
    by path under this interpreter's roots, kept only where the text hashes as trained on."""
    return listed_files(model_dir, MANIFEST)


def listed_files(model_dir: str | Path, listing_name: str) -> HeldoutFiles:
    """The files a listing of the model folder names (rows ``[source:path, sha256, bytes]``)
    present here with the hash it recorded."""
    listing = Path(model_dir) / listing_name
    try:
        data = json.loads(listing.read_text(encoding="utf-8"))
        rows = data["files"]
    except (OSError, ValueError, KeyError) as exc:
        raise FileNotFoundError(
            f"{listing} is missing or unreadable ({exc}): the model folder must come from "
            "`evoselfcode pretrain`, which lists the files it trained on and held out"
        ) from exc
    paths = sysconfig.get_paths()
    roots = {"stdlib": Path(paths["stdlib"]), "site-packages": Path(paths["purelib"])}
    found, missing, changed = [], 0, 0
    for name, sha256, _size in rows:
        source, _, rel = name.partition(":")
        path = roots[source] / rel if source in roots else None
        try:
            text = normalise(path.read_text(encoding="utf-8")) if path else None
        except (OSError, UnicodeDecodeError):
            text = None
        if text is None:
            missing += 1
        elif text_sha256(text) != sha256:
            changed += 1
        else:
            found.append((name, text))
    what = "held-out" if listing_name == HELDOUT_LIST else "training"
    return HeldoutFiles(found, len(rows), missing, changed, what)
