"""The Python files of a workspace that are the user's own code, and why the others are not.

The walk never enters folders that hold other people's code or machine output (version
control, virtualenvs, installed packages, caches, build output, vendored copies) nor folders
that ``.gitignore`` excludes. Each Python file left is read and kept only when it passes the
pretraining corpus's cleaning (``evolution.pretrain.cleaning``: not generated, not minified,
not huge, parses, not a data table) and holds nothing that looks like a secret. Every folder
or file left out is a ``Skip`` with a reason from ``SKIP_REASONS``, so the user can see what
was not learned from and why. Files keep their real relative paths, "/"-separated, as the
server names them in repo-level prompts.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from evolution.pretrain.cleaning import REASONS as CLEANING_REASONS
from evolution.pretrain.cleaning import normalise, verdict
from evolution.pretrain.dedup import text_sha256
from evolution.workspace.gitignore import IgnoreRules
from evolution.workspace.secret_files import find_secret, is_secret_name

# Reason → what it means (the CLI's report and its JSON use these names).
SKIP_REASONS = {
    "version-control": "a version-control folder (.git, .hg, .svn)",
    "virtualenv": "a virtual environment (holds pyvenv.cfg or conda-meta; .tox, .nox)",
    "installed-packages": "installed dependencies (node_modules, site-packages)",
    "cache": "a tool's cache (__pycache__, .mypy_cache, .pytest_cache, …)",
    "build-output": "build output (build, dist, *.egg-info) that is not a package itself",
    "vendored": "another project's code copied in (vendor, _vendor, third_party)",
    "gitignored": "excluded by a .gitignore (or .git/info/exclude)",
    "symlink": "a symbolic link (its target is scanned where it lies, if in the workspace)",
    "secret-file": "named like a file of keys or credentials (.env, *.pem, *.key, id_rsa…)",
    "secret-content": "its text holds what looks like a private key, token or API key",
    "binary": "holds NUL bytes: not text",
    "unreadable": "could not be read (permissions, or it vanished)",
    **{
        reason: CLEANING_REASONS[reason]
        for reason in (
            "not-utf8",
            "too-large",
            "too-small",
            "long-lines",
            "generated",
            "syntax-error",
            "data-table",
        )
    },
}

MAX_FILE_BYTES = 512 * 1024  # the pretraining corpus's cap: larger files are tables or bundles
PYTHON_SUFFIXES = (".py",)
GENERATED_SUFFIXES = ("_pb2.py", "_pb2_grpc.py")  # protoc's output says so only in a header

_FOLDER_REASONS = {
    **dict.fromkeys((".git", ".hg", ".svn", ".bzr"), "version-control"),
    **dict.fromkeys((".tox", ".nox"), "virtualenv"),
    **dict.fromkeys(
        ("node_modules", "site-packages", "dist-packages", ".eggs"), "installed-packages"
    ),
    **dict.fromkeys(
        (
            "__pycache__",
            ".mypy_cache",
            ".pytest_cache",
            ".ruff_cache",
            ".hypothesis",
            ".ipynb_checkpoints",
        ),
        "cache",
    ),
    **dict.fromkeys(("vendor", "_vendor", "vendored", "third_party", "third-party"), "vendored"),
}
_BUILD_FOLDERS = ("build", "dist")


@dataclass(frozen=True)
class WorkspaceFile:
    """One kept file: ``text`` normalised as pretraining trains on it (NFC, LF line ends, no
    trailing blanks, one final newline)."""

    path: str  # relative to the workspace folder, "/"-separated
    text: str
    sha256: str


@dataclass(frozen=True)
class Skip:
    path: str  # relative, "/"-separated; a folder's ends with "/"
    reason: str  # a key of SKIP_REASONS (or of ``evolution.workspace.data.DROP_REASONS``)
    detail: str = ""

    @property
    def is_folder(self) -> bool:
        return self.path.endswith("/")


@dataclass
class ScanResult:
    root: Path
    files: list[WorkspaceFile] = field(default_factory=list)  # sorted by path
    skips: list[Skip] = field(default_factory=list)

    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(skip.reason for skip in self.skips).most_common())


def scan_workspace(
    root: str | os.PathLike[str], *, max_file_bytes: int = MAX_FILE_BYTES
) -> ScanResult:
    """Every Python file under ``root`` worth learning from, and every skip with its reason."""
    top = Path(root).resolve()
    if not top.is_dir():
        raise NotADirectoryError(f"{top} is not a folder")
    result = ScanResult(top)
    rules, prefix = _rules_above(top)
    _Walk(result, prefix, max_file_bytes).folder(top, "", rules)
    result.files.sort(key=lambda f: f.path)
    return result


def _rules_above(root: Path) -> tuple[IgnoreRules, str]:
    """The ignore rules of the git checkout ``root`` lies in (``info/exclude`` and the
    ``.gitignore`` files of the folders above it), and ``root``'s path from the checkout's top
    ("" when ``root`` is the top or in no checkout): a subfolder opened alone obeys them too."""
    top = next((p for p in (root, *root.parents) if (p / ".git").exists()), root)
    rules = IgnoreRules().with_file(_read_small(top / ".git" / "info" / "exclude"), "")
    parts = root.relative_to(top).parts
    for depth in range(len(parts)):
        rules = rules.with_file(
            _read_small(top.joinpath(*parts[:depth], ".gitignore")), _join(*parts[:depth])
        )
    return rules, _join(*parts)


@dataclass
class _Walk:
    result: ScanResult
    prefix: str  # the workspace root's path from the top of the ignore rules
    max_bytes: int

    def folder(self, folder: Path, rel: str, rules: IgnoreRules) -> None:
        """Scan ``folder``, ``rel`` below the workspace root, under ``rules`` and its own."""
        rules = rules.with_file(_read_small(folder / ".gitignore"), _join(self.prefix, rel))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.result.skips.append(Skip((rel or ".") + "/", "unreadable", exc.strerror or ""))
            return
        for entry in entries:
            path = _join(rel, entry.name)
            if entry.is_symlink():
                if entry.is_dir() or entry.name.endswith(PYTHON_SUFFIXES):
                    self.result.skips.append(Skip(path + "/" * entry.is_dir(), "symlink"))
            elif entry.is_dir(follow_symlinks=False):
                reason = _folder_reason(Path(entry.path), entry.name)
                if reason is None and rules.ignored(_join(self.prefix, path), True):
                    reason = "gitignored"
                if reason:
                    self.result.skips.append(Skip(path + "/", reason))
                else:
                    self.folder(Path(entry.path), path, rules)
            elif entry.is_file(follow_symlinks=False):
                self.file(Path(entry.path), path, rules)

    def file(self, file: Path, path: str, rules: IgnoreRules) -> None:
        skips = self.result.skips
        if is_secret_name(file.name):  # counted even when not Python: the report shows it
            skips.append(Skip(path, "secret-file"))
        elif not file.name.endswith(PYTHON_SUFFIXES):
            return
        elif rules.ignored(_join(self.prefix, path), False):
            skips.append(Skip(path, "gitignored"))
        elif file.name.endswith(GENERATED_SUFFIXES):
            skips.append(Skip(path, "generated", "protoc output"))
        else:
            text, reason, detail = _read_python(file, self.max_bytes)
            if text is None:
                skips.append(Skip(path, reason, detail))
            else:
                self.result.files.append(WorkspaceFile(path, text, text_sha256(text)))


def _read_python(file: Path, max_bytes: int) -> tuple[str | None, str, str]:
    """``(text, "", "")`` for a file to learn from, else ``(None, reason, detail)``."""
    try:
        if file.stat().st_size > max_bytes:
            return None, "too-large", ""  # not even read: a 2 GB data dump costs nothing
        raw = file.read_bytes()
    except OSError as exc:
        return None, "unreadable", exc.strerror or ""
    if b"\0" in raw:
        return None, "binary", ""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "not-utf8", ""
    secret = find_secret(text)
    if secret is not None:
        return None, "secret-content", secret
    text = normalise(text)
    reason = verdict(text, max_bytes=max_bytes)
    return (None, reason, "") if reason else (text, "", "")


def _folder_reason(folder: Path, name: str) -> str | None:
    if name in _FOLDER_REASONS:
        return _FOLDER_REASONS[name]
    if name.endswith(".egg-info"):
        return "build-output"
    if (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir():
        return "virtualenv"
    # A package may be called build or dist (pypa/build's src/build); output has no __init__.py.
    if name in _BUILD_FOLDERS and not (folder / "__init__.py").is_file():
        return "build-output"
    return None


def _read_small(file: Path) -> str:
    """An ignore file's text ("" when absent, unreadable or absurdly large)."""
    try:
        if file.is_file() and file.stat().st_size <= 1 << 20:
            return file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        pass
    return ""


def _join(*parts: str) -> str:
    """Relative path parts joined by "/" (empty parts left out: "" is the top itself)."""
    return "/".join(part for part in parts if part)
