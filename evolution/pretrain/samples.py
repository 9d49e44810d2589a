"""Training samples in Qwen2.5-Coder's formats, built with the runtime's own prompt functions.

Each file is cut at line ends into chunks of about one context window of text, and each chunk
becomes one sample of one of these kinds (``rng`` decides; rates from the config):

* file-level FIM, PSM order (split points: ``fim_split`` below)::

      <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>{middle}<|endoftext|>

* repo-level, other files of the same package first (their heads), then this chunk, plain
  or as FIM — exactly ``models.prompts.repo_prompt`` / ``repo_fim_prompt`` plus the answer::

      <|repo_name|>{repo}\\n<|file_sep|>{path}\\n{content}\\n…<|file_sep|>{path}\\n{chunk}<|endoftext|>

* left to right: the chunk's text; the last chunk of a file ends with ``<|endoftext|>``.

Split points, by the config's ``fim_split``:

* ``chars``: half the middles lie between two uniform character positions (Qwen's recipe), the
  other half start at a uniform character and run to the end of that line or up to two more.
* ``editor`` (the default): a quarter as Qwen's, three quarters where an editor's cursor asks —
  at the start of a word or operator, half of those at a line's first non-blank character —
  running to the end of that line or up to two more, or (one in four) to a later word start
  on the same line. A model of a few million parameters trained on ``chars`` learns that a
  middle usually starts inside a word (``elf.x`` after ``    ``): Qwen2.5-Coder's trillions of
  tokens teach it to read the cursor's context instead; this budget does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from evolution.pretrain.corpus import Document
from models.prompts import fim_prompt, repo_fim_prompt, repo_prompt
from models.tokens import ENDOFTEXT, Prompt, Segment, join_prompt, special

# Characters of text per context token the chunks aim at: code BPEs with 8k pieces average
# 3-3.5 characters per token, so a chunk plus its FIM or repo overhead is about one window.
CHARS_PER_TOKEN = 2.5
MAX_OTHER_FILES = 3
# Where a word, a run of operators or a line's first non-blank character starts.
_WORD_START = re.compile(r"\w+|[^\w\s]+")
_LINE_BODY = re.compile(r"^[ \t]*(?=\S)", re.MULTILINE)


@dataclass(frozen=True)
class Sample:
    kind: str  # "fim", "l2r", "repo-fim", "repo-l2r"
    prompt: Prompt


def split_chunks(text: str, chunk_chars: int) -> list[str]:
    """``text`` cut at line ends into pieces of at most ``chunk_chars`` (a longer line whole)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        if current and size + len(line) > chunk_chars:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        chunks.append("".join(current))
    return chunks


def fim_split(text: str, rng: np.random.Generator, recipe: str) -> tuple[str, str, str]:
    """``(prefix, middle, suffix)`` of ``text`` at split points of ``recipe`` (see above)."""
    draw = rng.random()
    if recipe == "editor" and draw >= 0.25:
        return _editor_split(text, rng)
    if draw < 0.5 * (0.25 if recipe == "editor" else 1.0):
        start, end = sorted(int(x) for x in rng.integers(0, len(text) + 1, size=2))
        return text[:start], text[start:end], text[end:]
    return _to_line_end(text, int(rng.integers(0, len(text) + 1)), rng)


def _editor_split(text: str, rng: np.random.Generator) -> tuple[str, str, str]:
    line_bodies = [m.end() for m in _LINE_BODY.finditer(text)]
    if line_bodies and rng.random() < 0.5:
        start = line_bodies[int(rng.integers(0, len(line_bodies)))]
    else:
        starts = [m.start() for m in _WORD_START.finditer(text)] or [0]
        start = starts[int(rng.integers(0, len(starts)))]
    if rng.random() < 0.25:
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        later = [m.start() for m in _WORD_START.finditer(text, start + 1, line_end)]
        if later:
            end = later[int(rng.integers(0, len(later)))]
            return text[:start], text[start:end], text[end:]
    return _to_line_end(text, start, rng)


def _to_line_end(text: str, start: int, rng: np.random.Generator) -> tuple[str, str, str]:
    """A middle from ``start`` to the end of its line or of one or two lines further."""
    end = start
    for _ in range(1 + int(rng.integers(0, 3))):
        newline = text.find("\n", end)
        end = len(text) if newline < 0 else newline + 1
    return text[:start], text[start:end], text[end:]


def file_head(text: str, chars: int) -> str:
    """The first lines of ``text`` within ``chars`` (the runtime also cuts context files at
    line ends, keeping their heads)."""
    return split_chunks(text, chars)[0] if text else ""


class SampleMaker:
    """Samples of documents, deterministic for a seed and the documents' order."""

    def __init__(
        self, context: int, fim_rate: float, repo_rate: float, seed: int, fim_split: str
    ) -> None:
        self.chunk_chars = max(64, int(context * CHARS_PER_TOKEN))
        self.fim_rate = fim_rate
        self.fim_split = fim_split
        self.repo_rate = repo_rate
        self.rng = np.random.default_rng(seed)

    def samples(self, documents: Sequence[Document]) -> Iterator[Sample]:
        """Every sample of ``documents``, one package after another."""
        by_repo: dict[tuple[str, str], list[Document]] = {}
        for doc in documents:
            by_repo.setdefault((doc.file.source, doc.file.repo), []).append(doc)
        for docs in by_repo.values():
            for doc in docs:
                yield from self._file_samples(doc, docs)

    def _file_samples(self, doc: Document, package: list[Document]) -> Iterator[Sample]:
        chunks = split_chunks(doc.text, self.chunk_chars)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            repo = len(package) > 1 and self.rng.random() < self.repo_rate
            fim = self.rng.random() < self.fim_rate
            if repo:
                yield self._repo_sample(doc, chunk, package, fim)
            elif fim:
                prefix, middle, suffix = fim_split(chunk, self.rng, self.fim_split)
                yield Sample("fim", answered(fim_prompt(prefix, suffix), middle))
            else:
                parts = [Segment(chunk), special(ENDOFTEXT)] if last else [Segment(chunk)]
                yield Sample("l2r", join_prompt(parts))

    def _repo_sample(self, doc: Document, chunk: str, package: list[Document], fim: bool) -> Sample:
        others = [(d.file.path, d.text) for d in package if d is not doc]
        files = pick_context_files(others, self.rng, self.chunk_chars)
        repo, path = doc.file.repo, doc.file.path
        if fim:
            prefix, middle, suffix = fim_split(chunk, self.rng, self.fim_split)
            prompt = repo_fim_prompt(repo, files, path, prefix, suffix)
            return Sample("repo-fim", answered(prompt, middle))
        prompt = repo_prompt(repo, [*files, (path, chunk)])
        return Sample("repo-l2r", join_prompt([*prompt.segments, special(ENDOFTEXT)]))


def pick_context_files(
    others: Sequence[tuple[str, str]], rng: np.random.Generator, chunk_chars: int
) -> list[tuple[str, str]]:
    """(path, head) of 1 to ``MAX_OTHER_FILES`` of ``others`` (path, text), in their order;
    together the heads take at most half of ``chunk_chars``."""
    if not others:
        return []
    count = min(len(others), int(rng.integers(1, MAX_OTHER_FILES + 1)))
    picked = sorted(rng.choice(len(others), size=count, replace=False))
    budget = chunk_chars // (2 * count)
    return [(others[i][0], file_head(others[i][1], budget)) for i in picked]


def answered(prompt: Prompt, middle: str) -> Prompt:
    """A FIM prompt with its answer and the end token the model must learn to emit."""
    return join_prompt([*prompt.segments, Segment(middle), special(ENDOFTEXT)])
