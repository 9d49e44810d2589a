"""The training corpus: Python source found on this machine, cleaned, deduplicated, held out.

Sources are the interpreter's standard library and its site-packages. Each top-level package
is a "repo" (the standard library's single modules together form ``python-stdlib``) whose files
keep their real relative paths, for repo-level samples. The order of work:

1. find candidate files; drop excluded packages and vendored copies (``_vendor``, …);
2. mark held-out files *by path*: a hash-chosen share of the standard library and one whole
   installed package;
3. clean every file (``cleaning.verdict``) on all cores;
4. deduplicate, held-out files first so that no copy of one is trained on;
5. cap each installed package's bytes (a hash-ordered sample of its files).
"""

from __future__ import annotations

import hashlib
import sysconfig
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from evolution.pretrain.cleaning import normalise, verdict
from evolution.pretrain.config import PretrainConfig
from evolution.pretrain.dedup import Deduplicator, text_sha256

STDLIB_REPO = "python-stdlib"
# Folders that hold other projects' code, copied in: duplicates (or forks) of real packages.
VENDORED_DIRS = frozenset({"_vendor", "vendor", "vendored", "site-packages", "__pycache__"})
# Candidates read per installed package, as a multiple of its byte cap: cleaning all of a
# 50 MB package to keep 4 MB of it would waste minutes.
CANDIDATE_FACTOR = 2.0


@dataclass(frozen=True)
class SourceFile:
    """One file: ``source`` ("stdlib"/"site-packages"), ``path`` relative to its root."""

    source: str
    root: Path
    path: str
    repo: str

    @property
    def name(self) -> str:
        return f"{self.source}:{self.path}"


@dataclass(frozen=True)
class Document:
    file: SourceFile
    text: str
    sha256: str

    @property
    def bytes(self) -> int:
        return len(self.text.encode("utf-8", errors="surrogatepass"))


@dataclass
class Corpus:
    train: list[Document] = field(default_factory=list)
    heldout: list[Document] = field(default_factory=list)
    excluded_files: Counter = field(default_factory=Counter)  # reason -> files
    excluded_bytes: Counter = field(default_factory=Counter)  # reason -> bytes
    roots: dict[str, str] = field(default_factory=dict)

    def exclude(self, reason: str, size: int) -> None:
        self.excluded_files[reason] += 1
        self.excluded_bytes[reason] += size


def source_roots(config: PretrainConfig) -> dict[str, Path]:
    paths = sysconfig.get_paths()
    roots = {"stdlib": Path(config.stdlib or paths["stdlib"])}
    if config.site_packages != "none":
        roots["site-packages"] = Path(config.site_packages or paths["purelib"])
    return roots


def find_files(source: str, root: Path, corpus: Corpus) -> list[SourceFile]:
    """Every ``.py`` file under ``root`` outside vendored folders, sorted by path."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if not path.is_file():
            continue
        if VENDORED_DIRS & set(rel.parts[:-1]):
            if "__pycache__" not in rel.parts and "site-packages" not in rel.parts:
                corpus.exclude("vendored", path.stat().st_size)
            continue
        found.append(SourceFile(source, root, rel.as_posix(), _repo_of(source, rel)))
    return found


def _repo_of(source: str, rel: Path) -> str:
    """The top-level package; a single module is its own repo, except in the standard library,
    whose single modules form one."""
    if len(rel.parts) > 1:
        return rel.parts[0]
    return STDLIB_REPO if source == "stdlib" else rel.stem


def is_heldout(file: SourceFile, config: PretrainConfig) -> bool:
    """Held out by path alone, so the choice never depends on the content or on the run."""
    if file.source == "stdlib":
        return _path_hash(file.path) % 10_000 < config.heldout_percent * 100
    return file.repo == config.heldout_package


def _path_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _clean(file: SourceFile, max_bytes: int) -> tuple[str | None, str | None, int]:
    """``(text, None, size)`` for a kept file, ``(None, reason, size)`` otherwise."""
    try:
        raw = (file.root / file.path).read_bytes()
    except OSError:
        return None, "not-utf8", 0  # vanished or unreadable: as good as undecodable
    try:
        text = normalise(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not-utf8", len(raw)
    reason = verdict(text, max_bytes=max_bytes)
    return (None, reason, len(raw)) if reason else (text, None, len(raw))


def _clean_all(files: list[SourceFile], max_bytes: int, workers: int) -> list[tuple]:
    if workers <= 1 or len(files) < 64:
        return [_clean(f, max_bytes) for f in files]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_clean, files, [max_bytes] * len(files), chunksize=32))


def _candidates(files: list[SourceFile], config: PretrainConfig, corpus: Corpus) -> list:
    """Files worth cleaning: excluded packages out; a capped hash-ordered sample per package."""
    excluded = {p.strip() for p in config.exclude_packages.split(",") if p.strip()}
    cap = config.max_package_mib * (1 << 20) * CANDIDATE_FACTOR
    kept: list[SourceFile] = []
    taken: Counter = Counter()
    for file in sorted(files, key=lambda f: (f.source, f.repo, _path_hash(f.path))):
        size = (file.root / file.path).stat().st_size
        if file.source != "stdlib" and file.repo in excluded:
            corpus.exclude("excluded-package", size)
        elif file.source != "stdlib" and taken[file.repo] >= cap and not is_heldout(file, config):
            corpus.exclude("package-cap", size)
        else:
            taken[file.repo] += size
            kept.append(file)
    return kept


def build_corpus(config: PretrainConfig, workers: int = 1) -> Corpus:
    """The cleaned, deduplicated corpus with its held-out part and exclusion counts."""
    corpus = Corpus()
    files: list[SourceFile] = []
    for source, root in source_roots(config).items():
        corpus.roots[source] = str(root)
        files += find_files(source, root, corpus)
    files = _candidates(files, config, corpus)
    cleaned = _clean_all(files, config.max_file_kib * 1024, workers)
    # Who wins among copies: held-out files, then the standard library, then packages.
    heldout_first = sorted(
        range(len(files)),
        key=lambda i: (not is_heldout(files[i], config), files[i].source != "stdlib"),
    )
    dedup = Deduplicator()
    per_package: Counter = Counter()
    cap = config.max_package_mib * (1 << 20)
    for i in heldout_first:
        file, (text, reason, size) = files[i], cleaned[i]
        if text is None:
            corpus.exclude(reason or "not-utf8", size)
            continue
        document = Document(file, text, text_sha256(text))
        heldout = is_heldout(file, config)
        capped = not heldout and file.source != "stdlib"
        if capped and per_package[file.repo] + document.bytes > cap:
            corpus.exclude("package-cap", size)
            continue
        duplicate = dedup.check(file.name, text)
        if duplicate is not None:
            corpus.exclude(duplicate[0], size)
        elif heldout:
            corpus.heldout.append(document)
        else:
            per_package[file.repo] += document.bytes
            corpus.train.append(document)
    corpus.train.sort(key=lambda d: (d.file.source, d.file.repo, d.file.path))
    corpus.heldout.sort(key=lambda d: (d.file.source, d.file.repo, d.file.path))
    return corpus
