"""Qwen2.5-Coder's special tokens and ``Prompt``, which keeps them apart from user text.

A prompt is a sequence of segments: special tokens, and literal text that is encoded with
special-token matching switched off, so a file that happens to contain ``<|fim_prefix|>`` is
read as those characters and never as the control token. ``template`` text is ours (a chat
template's rendering) and may spell special tokens. Roles also tell the context-window safety
net what it may cut: ``prefix`` from its start, ``suffix`` from its end, ``context`` (other
files) whole groups first; ``text`` (headers, paths, chat messages) is never cut there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_PAD = "<|fim_pad|>"
REPO_NAME = "<|repo_name|>"
FILE_SEP = "<|file_sep|>"

# In the order of their ids in the real vocabulary (151643 and up).
QWEN_SPECIAL_TOKENS = (
    ENDOFTEXT,
    IM_START,
    IM_END,
    FIM_PREFIX,
    FIM_MIDDLE,
    FIM_SUFFIX,
    FIM_PAD,
    REPO_NAME,
    FILE_SEP,
)

SegmentRole = Literal["special", "template", "text", "prefix", "suffix", "context"]
Encoding = Literal["special", "template", "literal"]


@dataclass(frozen=True)
class Segment:
    """One piece of a prompt. ``group`` ties the segments of one context file together."""

    text: str
    role: SegmentRole = "text"
    group: int | None = None

    @property
    def special(self) -> bool:
        return self.role == "special"

    @property
    def encoding(self) -> Encoding:
        if self.role in ("special", "template"):
            return self.role  # type: ignore[return-value]
        return "literal"


@dataclass(frozen=True)
class Prompt:
    """A prompt whose special tokens are known, so user text stays literal when encoded."""

    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        """The prompt as one string (what an OpenAI-compatible server receives)."""
        return "".join(s.text for s in self.segments)

    def __str__(self) -> str:
        return self.text

    def runs(self) -> Iterator[tuple[Encoding, str]]:
        """(encoding, text) pairs with adjacent segments of the same encoding joined."""
        kind: Encoding | None = None
        run: list[str] = []
        for seg in self.segments:
            seg_kind = seg.encoding
            if seg_kind != kind or seg_kind == "special":
                if run and kind is not None:
                    yield kind, "".join(run)
                kind, run = seg_kind, []
            run.append(seg.text)
        if run and kind is not None:
            yield kind, "".join(run)


def special(token: str) -> Segment:
    return Segment(token, "special")


def join_prompt(parts: Sequence[Segment]) -> Prompt:
    """A prompt from segments, dropping empty literal ones."""
    return Prompt(tuple(s for s in parts if s.special or s.text))
