"""FIM training examples from the user's files and accepted completions, in the layout the
server prompts with.

Nothing here writes the format: file examples come from pretraining's ``SampleMaker``
(``evolution/pretrain/samples.py``: chunks of about one context window, editor-shaped split
points, other files' heads first) with every chunk in FIM form, and accepted completions are
laid out by the same ``models.prompts.repo_fim_prompt`` the server builds its prompts with::

    <|repo_name|>{workspace folder}\\n<|file_sep|>{other path}\\n{its head}\\n…
    <|file_sep|>{path}\\n<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>{middle}<|endoftext|>

The repo name is the workspace folder's name and paths are relative to it, as
``server/context.py`` names them. Inside a workspace folder the server always uses the
repo-level format, so ``repo_rate`` defaults to 1 (a workspace of one file gets file-level FIM
from ``SampleMaker``; an accepted completion is repo-level even without other files, as served).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evolution.pretrain.config import FIM_SPLITS
from evolution.pretrain.corpus import Document, SourceFile
from evolution.pretrain.samples import (
    SampleMaker,
    answered,
    file_head,
    pick_context_files,
    split_chunks,
)
from evolution.workspace.accepted import AcceptedTarget
from evolution.workspace.scan import WorkspaceFile
from models.prompts import repo_fim_prompt
from models.tokens import FIM_MIDDLE, Prompt

WORKSPACE_SOURCE = "workspace"  # the SourceFile.source of workspace files


@dataclass(frozen=True)
class ExampleConfig:
    context_tokens: int = 512  # the training window the chunks aim at (the shipped model's)
    repo_rate: float = 1.0  # share of file chunks in the repo-level format
    fim_split: str = "editor"  # split points of file chunks (see evolution/pretrain/samples.py)
    prefix_share: float = 0.75  # of an accepted completion's window, as the server's default
    seed: int = 0

    def __post_init__(self) -> None:
        if self.context_tokens < 16:
            raise ValueError(f"context_tokens must be at least 16, got {self.context_tokens}")
        if not 0.0 <= self.repo_rate <= 1.0:
            raise ValueError(f"repo_rate must be in [0, 1], got {self.repo_rate}")
        if self.fim_split not in FIM_SPLITS:
            raise ValueError(f"fim_split must be one of {FIM_SPLITS}, got {self.fim_split!r}")
        if not 0.0 < self.prefix_share < 1.0:
            raise ValueError(f"prefix_share must be between 0 and 1, got {self.prefix_share}")


@dataclass(frozen=True)
class FimExample:
    """One training sequence: ``question`` (what the server would send) then the answer."""

    path: str  # the file whose middle is learned
    kind: str  # "fim" (file level) or "repo-fim"
    source: str  # "file" (a split of a file's chunk) or "accepted" (an accepted completion)
    prompt: Prompt  # question, middle, <|endoftext|>

    @property
    def question(self) -> Prompt:
        """The prompt up to and including ``<|fim_middle|>``."""
        return Prompt(self.prompt.segments[: self._middle_at() + 1])

    @property
    def middle(self) -> str:
        """The answer, without the end token."""
        return "".join(
            s.text for s in self.prompt.segments[self._middle_at() + 1 :] if not s.special
        )

    def _middle_at(self) -> int:
        segments = self.prompt.segments
        return max(i for i, s in enumerate(segments) if s.special and s.text == FIM_MIDDLE)


def file_examples(
    files: Sequence[WorkspaceFile], repo_name: str, config: ExampleConfig = ExampleConfig()
) -> list[FimExample]:
    """One FIM example per chunk of each file, deterministic for the config and the files."""
    maker = _sample_maker(config)
    docs = [
        Document(SourceFile(WORKSPACE_SOURCE, Path(), f.path, repo_name), f.text, f.sha256)
        for f in files
    ]
    # SampleMaker yields one sample per chunk, file after file: that says whose each one is.
    paths = [doc.file.path for doc in docs for _ in split_chunks(doc.text, maker.chunk_chars)]
    return [
        FimExample(path, sample.kind, "file", sample.prompt)
        for path, sample in zip(paths, maker.samples(docs), strict=True)
    ]


def accepted_examples(
    targets: Sequence[AcceptedTarget],
    files: Sequence[WorkspaceFile],
    repo_name: str,
    config: ExampleConfig = ExampleConfig(),
) -> list[FimExample]:
    """One repo-level FIM example per target: the window around it in its file (cut at line
    boundaries, ``prefix_share`` of it before), after the heads of other ``files`` picked as
    ``SampleMaker`` picks a package's. Every target's file must be among ``files``."""
    chunk_chars = _sample_maker(config).chunk_chars
    by_path = {f.path: f for f in files}
    rng = np.random.default_rng(config.seed)
    examples = []
    for target in targets:
        prefix, middle, suffix = target.split(by_path[target.path].text)
        room = max(0, chunk_chars - len(middle))
        prefix = _tail(prefix, int(room * config.prefix_share))
        suffix = file_head(suffix, room - len(prefix)) if suffix else ""
        others = [(f.path, f.text) for f in files if f.path != target.path]
        context = pick_context_files(others, rng, chunk_chars)
        prompt = repo_fim_prompt(repo_name, context, target.path, prefix, suffix)
        examples.append(FimExample(target.path, "repo-fim", "accepted", answered(prompt, middle)))
    return examples


def _sample_maker(config: ExampleConfig) -> SampleMaker:
    return SampleMaker(
        context=config.context_tokens,
        fim_rate=1.0,
        repo_rate=config.repo_rate,
        seed=config.seed,
        fim_split=config.fim_split,
    )


def _tail(text: str, chars: int) -> str:
    """The last lines of ``text`` within ``chars``; the line the hole is on always whole."""
    if len(text) <= chars:
        return text
    newline = text.find("\n", len(text) - chars - 1)
    if newline < 0:
        return text[text.rfind("\n") + 1 :]
    return text[newline + 1 :]
