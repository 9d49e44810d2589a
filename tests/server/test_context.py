"""Context gathering: windows around the cursor, workspace paths, other open files."""

from __future__ import annotations

import time

from lsprotocol import types

from server.context import CHARS_PER_TOKEN, infill_window, jaccard, locate
from server.documents import Cursor, LineDocument, LineWorkspace


def workspace(*folders: tuple[str, str]) -> LineWorkspace:
    return LineWorkspace(
        folders[0][0] if folders else None,
        types.TextDocumentSyncKind.Incremental,
        [types.WorkspaceFolder(uri=uri, name=name) for uri, name in folders],
    )


def open_doc(space: LineWorkspace, uri: str, text: str) -> LineDocument:
    space.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
    )
    document = space.text_documents[uri]
    assert isinstance(document, LineDocument)
    return document


def test_paths_are_relative_to_the_innermost_folder_and_named_after_it():
    space = workspace(("file:///home/me/proj", "proj"), ("file:///home/me/proj/sub", "sub"))
    assert locate(space, "file:///home/me/proj/pkg/a.py")[:2] == ("proj", "pkg/a.py")
    assert locate(space, "file:///home/me/proj/sub/b.py")[:2] == ("sub", "b.py")
    assert locate(space, "file:///elsewhere/c.py")[:2] == (None, "c.py")
    assert locate(space, "file:///home/me/project2/d.py")[0] is None  # a prefix is no parent


def test_windows_are_cut_at_line_boundaries_within_the_budget():
    space = workspace(("file:///ws", "ws"))
    lines = [f"line_{i} = {i}\n" for i in range(2000)]
    document = open_doc(space, "file:///ws/big.py", "".join(lines))
    window = infill_window(
        space, document, Cursor(1000, 4), context_tokens=64, prefix_share=0.75, open_documents=False
    )
    budget = 64 * CHARS_PER_TOKEN
    assert window.prefix.endswith("line_1000"[:4])
    assert window.prefix[len(window.prefix) - 4 - len(lines[999]) :].startswith("line_999")
    assert len(window.prefix) <= budget * 0.75 + 1
    assert window.prefix.startswith("line_")  # starts at a line boundary
    assert window.suffix.startswith("_1000 = 1000\n") and window.suffix.endswith("\n")
    assert window.line_prefix == "line" and window.line_suffix == "_1000 = 1000"
    assert (window.repo_name, window.path) == ("ws", "big.py")


def test_other_files_come_recently_edited_first_without_near_duplicates_or_the_current():
    space = workspace(("file:///ws", "ws"))
    current = open_doc(space, "file:///ws/main.py", "import util\n\nprint(util.answer())\n")
    open_doc(space, "file:///ws/old.py", "def old():\n    return 1\n")
    time.sleep(0.01)
    open_doc(space, "file:///ws/util.py", "def answer():\n    return 42\n")
    open_doc(space, "file:///ws/copy_of_main.py", "import util\n\nprint(util.answer())\n")
    open_doc(space, "file:///other/outside.py", "x = 1\n")
    window = infill_window(
        space, current, Cursor(2, 0), context_tokens=512, prefix_share=0.75, open_documents=True
    )
    paths = [f.path for f in window.other_files]
    assert paths == ["util.py", "old.py"]
    assert window.other_files[0].text == "def answer():\n    return 42\n"
    off = infill_window(
        space, current, Cursor(2, 0), context_tokens=512, prefix_share=0.75, open_documents=False
    )
    assert off.other_files == ()


def test_jaccard():
    assert jaccard(frozenset({"a", "b"}), frozenset({"a", "b"})) == 1.0
    assert jaccard(frozenset({"a"}), frozenset({"b"})) == 0.0
    assert jaccard(frozenset(), frozenset()) == 1.0
