"""What the model sees for one completion: windows around the cursor and other open files.

Runs on the event-loop thread and only copies text (the worker thread budgets it in tokens
through ``models.prompts.build_infill_prompt``), so it must stay cheap on a 5 MB document:
it walks lines outward from the cursor until a character allowance is spent and never joins
or tokenizes the whole file. The allowance is generous (``CHARS_PER_TOKEN`` characters per
budget token) so the token budget, not this cut, decides what the prompt holds.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from pygls.workspace import Workspace

from server.documents import Cursor, LineDocument, line_text

# Code runs about 3-4 characters per Qwen token; long runs of spaces can pack more.
CHARS_PER_TOKEN = 8
MAX_OTHER_FILES = 8
NEAR_DUPLICATE_JACCARD = 0.8


@dataclass(frozen=True)
class OtherFile:
    path: str  # relative to the workspace folder, "/"-separated
    text: str


@dataclass(frozen=True)
class InfillWindow:
    """A snapshot of the text around the cursor, taken when the request arrived."""

    uri: str
    path: str  # relative to the workspace folder (the file name when outside any folder)
    repo_name: str | None  # the workspace folder's name; None outside any folder
    language_id: str | None
    prefix: str  # the window before the cursor, starting at a line boundary
    suffix: str  # the window after the cursor, ending at a line boundary
    line_prefix: str  # the cursor's line up to the cursor
    line_suffix: str  # the cursor's line after the cursor, without its line end
    other_files: tuple[OtherFile, ...]

    @property
    def is_python(self) -> bool:
        return self.language_id == "python" or self.path.endswith((".py", ".pyi"))


def _window_before(document: LineDocument, cursor: Cursor, budget_chars: int) -> str:
    lines = document.lines
    current = (lines[cursor.line] if cursor.line < len(lines) else "")[: cursor.column]
    parts = [current[-budget_chars:]]
    spent = len(parts[0])
    for index in range(cursor.line - 1, -1, -1):
        spent += len(lines[index])
        if spent > budget_chars:
            break
        parts.append(lines[index])
    return "".join(reversed(parts))


def _window_after(document: LineDocument, cursor: Cursor, budget_chars: int) -> str:
    lines = document.lines
    current = (lines[cursor.line] if cursor.line < len(lines) else "")[cursor.column :]
    parts = [current[:budget_chars]]
    spent = len(parts[0])
    for index in range(cursor.line + 1, len(lines)):
        spent += len(lines[index])
        if spent > budget_chars:
            break
        parts.append(lines[index])
    return "".join(parts)


def _head(document: LineDocument, budget_chars: int) -> str:
    parts, spent = [], 0
    for line in document.lines:
        spent += len(line)
        if spent > budget_chars:
            break
        parts.append(line)
    return "".join(parts)


def _uri_path(uri: str) -> str:
    return unquote(urlparse(uri).path)


def first_folder_uri(workspace: Workspace) -> str | None:
    """The workspace's first folder (its root in a client without folders): the folder whose
    own completion adapter serves, and that the palette's workspace fine-tune trains on."""
    for folder in workspace.folders.values():
        return folder.uri
    return workspace.root_uri or None


def in_folder(uri: str, folder_uri: str) -> bool:
    """Whether the document ``uri`` lies inside the folder ``folder_uri`` (same client's URIs)."""
    return uri.startswith(folder_uri.rstrip("/") + "/")


def locate(workspace: Workspace, uri: str) -> tuple[str | None, str, str]:
    """(repo name, path relative to its workspace folder, folder uri) for a document uri.

    The innermost folder wins; outside every folder the repo name is None and the path is
    the file name.
    """
    path = _uri_path(uri)
    best: tuple[str, str, str] | None = None
    folders = [(f.uri, f.name) for f in workspace.folders.values()]
    if not folders and workspace.root_uri:
        root = workspace.root_uri
        folders = [(root, posixpath.basename(_uri_path(root).rstrip("/")) or root)]
    for folder_uri, name in folders:
        root = _uri_path(folder_uri).rstrip("/") + "/"
        if path.startswith(root) and (best is None or len(root) > len(best[2])):
            best = (name, path[len(root) :], root)
    if best is None:
        return None, posixpath.basename(path), ""
    return best


def _line_set(text: str) -> frozenset[str]:
    return frozenset(stripped for line in text.splitlines() if (stripped := line.strip()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def other_files(
    workspace: Workspace, current_uri: str, current_text: str, budget_chars: int
) -> tuple[OtherFile, ...]:
    """Other open documents in the current document's folder, recently edited first.

    Near-duplicates (of the current window or of a file already taken) are dropped: they
    would spend the budget twice on the same lines.
    """
    _, _, folder = locate(workspace, current_uri)
    if not folder:
        return ()
    candidates = [
        doc
        for uri, doc in workspace.text_documents.items()
        if uri != current_uri
        and isinstance(doc, LineDocument)
        and _uri_path(uri).startswith(folder)
    ]
    candidates.sort(key=lambda doc: doc.edited_at, reverse=True)
    taken: list[OtherFile] = []
    seen = [_line_set(current_text)]
    for doc in candidates:
        if len(taken) == MAX_OTHER_FILES:
            break
        text = _head(doc, budget_chars)
        lines = _line_set(text)
        if not lines or any(jaccard(lines, s) > NEAR_DUPLICATE_JACCARD for s in seen):
            continue
        seen.append(lines)
        taken.append(OtherFile(path=_uri_path(doc.uri)[len(folder) :], text=text))
    return tuple(taken)


def infill_window(
    workspace: Workspace,
    document: LineDocument,
    cursor: Cursor,
    *,
    context_tokens: int,
    prefix_share: float,
    open_documents: bool,
) -> InfillWindow:
    """Copy what the prompt may use; the token budget is applied later, off this thread."""
    budget = context_tokens * CHARS_PER_TOKEN
    prefix = _window_before(document, cursor, int(budget * prefix_share) + 1)
    suffix = _window_after(document, cursor, int(budget * (1 - prefix_share)) + 1)
    repo_name, path, _ = locate(workspace, document.uri)
    current = line_text(document, cursor.line)
    others = (
        other_files(workspace, document.uri, prefix + suffix, budget)
        if open_documents and repo_name is not None
        else ()
    )
    return InfillWindow(
        uri=document.uri,
        path=path,
        repo_name=repo_name,
        language_id=document.language_id,
        prefix=prefix,
        suffix=suffix,
        line_prefix=current[: cursor.column],
        line_suffix=current[cursor.column :],
        other_files=others,
    )
