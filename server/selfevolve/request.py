"""The ``evoselfcode.selfEvolve`` arguments, checked against the open document.

``{uri, range or position, instruction?}`` with LSP positions (the client's encoding, UTF-16 by
default). Refused up front, with a message that says why: a document the client has not
opened, a file that is not Python, a selection larger than one function can be. The document
is copied as it is now (``Snapshot``): the flow runs on that text while the user goes on
typing, and the proposal is checked against the live document again when accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

from pygls.workspace import Workspace

from evolution.evolve import Position, Range
from server import rpc
from server.documents import LineDocument, cursor_at, open_document
from server.errors import DocumentError

COMMAND = "evoselfcode.selfEvolve"
USAGE = f"{COMMAND} takes {{uri, range or position, instruction?}}"
PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")
# As much as a generator prompt takes (evolution.evolve's max_function_chars): one function.
MAX_SELECTION_CHARS = 40_000
# Finding the function parses the whole file on the event loop (~0.1 s per MB).
MAX_DOCUMENT_CHARS = 1_000_000
MAX_INSTRUCTION_CHARS = 4_000


@dataclass(frozen=True)
class Snapshot:
    """The document as the evolution saw it."""

    uri: str
    path: str  # the file's path for prompts and records (the uri when it is no file)
    version: int | None
    source: str
    lines: tuple[str, ...]  # with their line ends, for position conversions

    @classmethod
    def of(cls, document: LineDocument) -> Snapshot:
        path = document.path or document.uri
        return cls(document.uri, path, document.version, document.source, tuple(document.lines))


@dataclass(frozen=True)
class EvolveCall:
    """One checked ``selfEvolve`` request: the text, where in it, and the user's words."""

    snapshot: Snapshot
    where: Position | Range  # code points
    instruction: str | None


def is_python(document: LineDocument) -> bool:
    language = (document.language_id or "").lower()
    if language:
        return language == "python"
    return PurePosixPath(urlparse(document.uri).path).suffix.lower() in PYTHON_SUFFIXES


def read_call(workspace: Workspace, raw_args: tuple[Any, ...]) -> EvolveCall:
    """Parse and check the command's argument (JSON-RPC errors for what cannot be done)."""
    args = rpc.command_argument(raw_args, USAGE)
    uri = args.get("uri")
    if not isinstance(uri, str):
        raise rpc.invalid_params(USAGE)
    try:
        start, end = rpc.span(args)
    except ValueError as exc:
        raise rpc.invalid_params(f"{USAGE}: {exc}") from exc
    instruction = rpc.optional_string(args, "instruction")
    if instruction and len(instruction) > MAX_INSTRUCTION_CHARS:
        raise rpc.invalid_params(
            f"the instruction is {len(instruction)} characters; at most {MAX_INSTRUCTION_CHARS}"
        )
    try:
        document = open_document(workspace, uri)
    except DocumentError as exc:
        raise rpc.request_failed(str(exc)) from exc
    check_document(document)
    try:
        first, last = cursor_at(document, start), cursor_at(document, end)
    except DocumentError as exc:
        raise rpc.invalid_params(str(exc)) from exc
    check_selection(document, args, first.line, last.line, last.column)
    at = Position(first.line, first.column)
    where = at if "range" not in args else Range(at, Position(last.line, last.column))
    return EvolveCall(Snapshot.of(document), where, (instruction or "").strip() or None)


def check_document(document: LineDocument) -> None:
    """Refuse what is not Python, or too large to search for a function quickly."""
    name = PurePosixPath(urlparse(document.uri).path).name or document.uri
    if not is_python(document):
        kind = f"a {document.language_id} file" if document.language_id else "not a .py file"
        raise rpc.request_failed(f"self-evolution works on Python functions; {name} is {kind}")
    size = len(document.source)
    if size > MAX_DOCUMENT_CHARS:
        raise rpc.request_failed(
            f"{name} has {size} characters; self-evolve works in files of at most "
            f"{MAX_DOCUMENT_CHARS}: move the function to a smaller module"
        )


def check_selection(
    document: LineDocument, args: Mapping[str, Any], first: int, last: int, end_column: int
) -> None:
    """Refuse a selection larger than any function the generator could take."""
    if "range" not in args:
        return
    lines = document.lines
    chars = sum(len(line) for line in lines[first:last]) + end_column
    if chars > MAX_SELECTION_CHARS:
        raise rpc.request_failed(
            f"the selection is {chars} characters ({last - first + 1} lines); self-evolve "
            f"works on one function of at most {MAX_SELECTION_CHARS} characters: select one "
            "function, or put the cursor inside it"
        )
