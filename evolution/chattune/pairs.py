"""Docstring → function pairs, cut with ``ast`` from the files the base model trained on.

A pair is a function (module-level, or a method of a class) that has a docstring and a body of
``MIN_BODY_LINES``–``MAX_BODY_LINES`` lines after it. The instruction is the docstring, with the
signature when one is asked for; the answer is the function as code without its docstring
(decorators left out), dedented: the whole answer is the code, which is what the server's answer
extraction (``server.instructions.answer.extract_code``) takes from an answer without a fence.

The files are the ones the model folder lists (``data_manifest.json`` for training,
``heldout.json`` for evaluation), found again on this machine by path and kept only where the
text hashes as trained on (``evolution.pretrain.heldout``). Held-out pairs come first in the
deduplication, as held-out files do in the corpus: a training pair whose code or docstring
equals a held-out one's is dropped, so no copy of an evaluation answer is trained on.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolution.codecheck.syntax import parse_or_none
from evolution.finetune.records import TrainingPair

MIN_BODY_LINES = 2  # non-blank lines of the body after the docstring
MAX_BODY_LINES = 40
MIN_DOC_CHARS = 12  # shorter docstrings ("Getter.") say too little to write a body from
MAX_DOC_CHARS = 1200
# Share of training instructions given without the signature: people write "# sort the
# users by age" as often as they name the function, so the model sees both.
NO_SIGNATURE_SHARE = 0.25


@dataclass(frozen=True)
class FunctionPair:
    """One function of a source file, split into what to ask and what to answer."""

    source: str  # "stdlib:path" or "site-packages:path", as the model folder lists files
    qualname: str  # Class.method or function
    signature: str  # "def name(args) -> T:" on one line
    docstring: str  # cleaned (``inspect.cleandoc``)
    code: str  # the function without its docstring and decorators, dedented
    body: str  # the statements after the docstring, dedented

    def instruction(self, with_signature: bool = True) -> str:
        """What the user would write: the docstring, after the signature to write."""
        if not with_signature:
            return self.docstring
        return f"Write a Python function `{self.signature}`\n\n{self.docstring}"

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.source}\0{self.qualname}\0{self.code}".encode()).hexdigest()

    def training_pair(self, seed: int) -> TrainingPair:
        """The chat pair to train on; ``NO_SIGNATURE_SHARE`` of them (by key) without the
        signature."""
        plain = random.Random(f"{seed}:{self.key}").random() < NO_SIGNATURE_SHARE
        return TrainingPair.of(self.instruction(with_signature=not plain), self.code)

    def eval_pair(self) -> TrainingPair:
        """The chat pair to evaluate on: always with the signature, so the answer's name and
        arguments are given and its body can be compared with the real one."""
        return TrainingPair.of(self.instruction(), self.code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "qualname": self.qualname,
            "signature": self.signature,
            "docstring": self.docstring,
            "code": self.code,
            "body": self.body,
        }


@dataclass
class PairSet:
    """Pairs of the training and held-out files, and what was left out, by reason."""

    train: list[FunctionPair] = field(default_factory=list)
    heldout: list[FunctionPair] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def functions_of(source: str, text: str, skipped: Counter[str] | None = None) -> list[FunctionPair]:
    """Every function of ``text`` that makes a pair, in file order; others are counted in
    ``skipped`` under their reason."""
    skipped = skipped if skipped is not None else Counter()
    tree = parse_or_none(text)
    if tree is None:
        skipped["file-syntax-error"] += 1
        return []
    lines = text.splitlines()
    pairs = []
    for qualname, node in _functions(tree.body, ""):
        pair, reason = _pair(source, qualname, node, lines)
        if pair is None:
            skipped[reason] += 1
        else:
            pairs.append(pair)
    return pairs


def _functions(body: Sequence[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.AST]]:
    """Module-level functions and methods (of nested classes too), not inner functions."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node.body, f"{prefix}{node.name}.")


def _pair(
    source: str, qualname: str, node: Any, lines: list[str]
) -> tuple[FunctionPair | None, str]:
    docstring = ast.get_docstring(node, clean=True)
    if not docstring or not docstring.strip():
        return None, "no-docstring"
    docstring = docstring.strip()
    if not MIN_DOC_CHARS <= len(docstring) <= MAX_DOC_CHARS:
        return None, "docstring-size"
    doc, statements = node.body[0], node.body[1:]
    if not statements:
        return None, "body-size"
    first, last = statements[0], statements[-1]
    if doc.lineno == node.lineno or first.lineno == doc.end_lineno:
        return None, "one-line-layout"  # def f(): "doc"; … or "doc"; x = 1
    end = last.end_lineno or last.lineno
    body_lines = lines[first.lineno - 1 : end]
    if not MIN_BODY_LINES <= sum(1 for line in body_lines if line.strip()) <= MAX_BODY_LINES:
        return None, "body-size"
    header = lines[node.lineno - 1 : doc.lineno - 1]
    code = textwrap.dedent("\n".join(header + body_lines)).strip("\n") + "\n"
    tree = parse_or_none(code)
    if tree is None or len(tree.body) != 1 or not code[:1].strip():
        # A string in the body that starts at column 0 keeps dedent from working.
        return None, "not-self-contained"
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    signature = f"{prefix} {node.name}({ast.unparse(node.args)}){returns}:"
    body = textwrap.dedent("\n".join(body_lines)).strip("\n") + "\n"
    return FunctionPair(source, qualname, signature, docstring, code, body), ""


def _code_key(code: str) -> str:
    return hashlib.sha256(re.sub(r"\s+", " ", code).strip().encode()).hexdigest()


def _doc_key(docstring: str) -> str:
    return hashlib.sha256(re.sub(r"\s+", " ", docstring).strip().lower().encode()).hexdigest()


def build_pairs(
    train_files: Iterable[tuple[str, str]], heldout_files: Iterable[tuple[str, str]]
) -> PairSet:
    """Pairs of ``(name, text)`` files, deduplicated by code and by docstring (whitespace
    ignored), held-out files first."""
    pairs = PairSet()
    seen_code: set[str] = set()
    seen_doc: set[str] = set()
    for files, kept in ((heldout_files, pairs.heldout), (train_files, pairs.train)):
        for name, text in files:
            for pair in functions_of(name, text, pairs.skipped):
                code, doc = _code_key(pair.code), _doc_key(pair.docstring)
                if code in seen_code or doc in seen_doc:
                    pairs.skipped["duplicate"] += 1
                    continue
                seen_code.add(code)
                seen_doc.add(doc)
                kept.append(pair)
    return pairs


def model_pairs(model_dir: str | Path) -> tuple[PairSet, dict[str, Any]]:
    """The pairs of a model folder's training and held-out files, with how many of its listed
    files were found unchanged here."""
    from evolution.pretrain.heldout import heldout_files, training_files

    train, heldout = training_files(model_dir), heldout_files(model_dir)
    found = {"training": train.describe(), "heldout": heldout.describe()}
    return build_pairs(train.files, heldout.files), found


def sample(pairs: Sequence[FunctionPair], count: int, seed: int) -> list[FunctionPair]:
    """``count`` pairs (all of them for 0) in a seeded order that does not depend on the order
    of ``pairs``: the first ``n`` of a larger sample are the sample of ``n``."""
    ordered = sorted(pairs, key=lambda p: hashlib.sha256(f"{seed}:{p.key}".encode()).digest())
    return ordered[:count] if count else ordered


def manifest(pairs: Sequence[FunctionPair], file_hashes: dict[str, str]) -> dict[str, Any]:
    """Which files the pairs came from: per file its SHA-256 (as the model folder lists it)
    and how many pairs."""
    counts = Counter(p.source for p in pairs)
    return {
        "pairs": len(pairs),
        "files_columns": ["file", "sha256", "pairs"],
        "files": [[name, file_hashes.get(name, ""), n] for name, n in sorted(counts.items())],
    }
