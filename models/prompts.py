"""Prompt formats of Qwen2.5-Coder and the token-budgeted infill prompt.

File level (PSM)::

    <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>

Repo level (Qwen2.5-Coder's ``examples/Qwen2.5-Coder-repolevel-fim.py``)::

    <|repo_name|>{repo}\\n<|file_sep|>{path}\\n{content}\\n ... <|file_sep|>{current path}\\n
    <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>

``build_infill_prompt`` runs on every keystroke; the line cutting it relies on
(``models.budget``) never tokenizes a whole large file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.budget import CountMany, counter_of, keep_head, keep_tail, prompt_tokens
from models.chat import chat_prompt
from models.errors import InvalidRequestError
from models.tokens import (
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
    REPO_NAME,
    Prompt,
    Segment,
    join_prompt,
    special,
)

__all__ = [
    "FileUse",
    "InfillContext",
    "InfillPrompt",
    "Prompt",
    "Segment",
    "build_infill_prompt",
    "chat_prompt",
    "fim_prompt",
    "prompt_tokens",
    "repo_fim_prompt",
    "repo_prompt",
    "trim_prompt",
]

# A truncated other file must bring at least this many tokens to be worth its header.
_MIN_FILE_TOKENS = 32


def fim_prompt(prefix: str, suffix: str) -> Prompt:
    """File-level fill-in-the-middle prompt (PSM order)."""
    return join_prompt(
        [
            special(FIM_PREFIX),
            Segment(prefix, "prefix"),
            special(FIM_SUFFIX),
            Segment(suffix, "suffix"),
            special(FIM_MIDDLE),
        ]
    )


def repo_prompt(repo: str, files: Sequence[tuple[str, str]]) -> Prompt:
    """Repo-level context: ``<|repo_name|>{repo}\\n``, then per ``(path, content)`` file
    ``<|file_sep|>{path}\\n{content}\\n`` (what pretraining's repo-level samples look like)."""
    parts = [special(REPO_NAME), Segment(f"{repo}\n")]
    for group, (file_path, content) in enumerate(files):
        parts += [
            Segment(FILE_SEP, "special", group),
            Segment(f"{file_path}\n", "text", group),
            Segment(_with_final_newline(content), "context", group),
        ]
    return join_prompt(parts)


def repo_fim_prompt(
    repo: str, files: Sequence[tuple[str, str]], path: str, prefix: str, suffix: str
) -> Prompt:
    """Repo-level FIM prompt: other ``(path, content)`` files first, then the current file."""
    parts = [*repo_prompt(repo, files).segments, special(FILE_SEP), Segment(f"{path}\n")]
    return join_prompt([*parts, *fim_prompt(prefix, suffix).segments])


@dataclass(frozen=True)
class InfillContext:
    """The text around the cursor and, for the repo-level format, the workspace around it.

    The repo-level format is used when both ``path`` and ``repo_name`` are given;
    ``other_files`` are ``(path, content)`` pairs, most useful first.
    """

    prefix: str
    suffix: str
    path: str | None = None
    repo_name: str | None = None
    other_files: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class FileUse:
    path: str
    tokens: int
    truncated: bool


@dataclass(frozen=True)
class InfillPrompt:
    """The prompt and what it kept: ``prefix[prefix_start:]`` and ``suffix[:suffix_end]``;
    the kept prefix's last ``len(heal)`` characters are not in the prompt but due as the
    answer's start (pass ``heal`` in ``SamplingParams``; see ``models.healing``)."""

    prompt: Prompt
    tokens: int
    budget_tokens: int
    prefix_start: int
    suffix_end: int
    files: tuple[FileUse, ...]
    files_dropped: tuple[str, ...]
    repo_level: bool
    heal: str = ""

    @property
    def text(self) -> str:
        return self.prompt.text


def build_infill_prompt(
    model_or_count_tokens: object,
    ctx: InfillContext,
    budget_tokens: int,
    prefix_share: float = 0.75,
    *,
    heal: bool = False,
) -> InfillPrompt:
    """The FIM prompt for ``ctx`` in at most ``budget_tokens`` tokens.

    Prefix and suffix share the budget ``prefix_share`` to the rest (either's unused part
    goes to the other); both are cut at line boundaries at their far ends, never next to the
    cursor (a single line longer than its share is cut by characters at its far end). Other
    files get only what is left, whole or head-truncated, in the order given.
    ``model_or_count_tokens`` is a model (``count_tokens``, optionally ``count_tokens_batch``)
    or a function from text to a token count. With ``heal``, a model that can constrain its
    first tokens (``split_heal``: the local backend) gets a prompt healed at the cursor.
    """
    if budget_tokens < 1:
        raise InvalidRequestError(f"budget_tokens must be positive, got {budget_tokens}")
    if not 0.0 < prefix_share < 1.0:
        raise InvalidRequestError(f"prefix_share must be between 0 and 1, got {prefix_share}")
    count_many = counter_of(model_or_count_tokens)
    repo_level = ctx.path is not None and ctx.repo_name is not None

    def assemble(prefix: str, suffix: str, files: Sequence[tuple[str, str]]) -> Prompt:
        if repo_level:
            assert ctx.repo_name is not None and ctx.path is not None
            return repo_fim_prompt(ctx.repo_name, files, ctx.path, prefix, suffix)
        return fim_prompt(prefix, suffix)

    overhead = prompt_tokens(assemble("", "", ()), count_many)
    if overhead > budget_tokens and repo_level:
        repo_level = False  # the header alone does not fit: fall back to the file-level format
        overhead = prompt_tokens(assemble("", "", ()), count_many)
    if overhead > budget_tokens:
        raise InvalidRequestError(
            f"budget_tokens={budget_tokens} is below the {overhead} tokens the FIM format needs"
        )
    avail = budget_tokens - overhead
    prefix_budget = int(avail * prefix_share)
    pre = keep_tail(ctx.prefix, prefix_budget, count_many)
    suf = keep_head(ctx.suffix, avail - prefix_budget, count_many)
    if pre.whole and not suf.whole:
        suf = keep_head(ctx.suffix, avail - pre.tokens, count_many)
    elif suf.whole and not pre.whole:
        pre = keep_tail(ctx.prefix, avail - suf.tokens, count_many)

    files: list[tuple[str, str]] = []
    uses: list[FileUse] = []
    dropped: list[str] = [p for p, _ in ctx.other_files]
    if repo_level and ctx.other_files:
        files, uses, dropped = _fit_files(
            ctx.other_files, avail - pre.tokens - suf.tokens, count_many
        )

    prefix_text, suffix_text = pre.text, suf.text
    prompt = assemble(prefix_text, suffix_text, files)
    total = prompt_tokens(prompt, count_many)
    # Line-by-line counts can miss a token where a merge spans a line break: shave until exact.
    while total > budget_tokens:
        if files:
            dropped.insert(0, files.pop()[0])
            uses.pop()
        elif "\n" in prefix_text[:-1]:  # keep the line the cursor is on or just below
            prefix_text = prefix_text[prefix_text.index("\n") + 1 :]
        elif suffix_text.rstrip("\n").count("\n") > 0:
            suffix_text = suffix_text[: suffix_text.rstrip("\n").rindex("\n") + 1]
        elif prefix_text or suffix_text:
            prefix_text = prefix_text[len(prefix_text) // 10 + 1 :]
            suffix_text = suffix_text[: len(suffix_text) * 9 // 10]
        else:
            break
        prompt = assemble(prefix_text, suffix_text, files)
        total = prompt_tokens(prompt, count_many)
    healed_text = ""
    split_heal = getattr(model_or_count_tokens, "split_heal", None) if heal else None
    if split_heal is not None:
        healed, healed_text = split_heal(prefix_text)
        if healed_text:
            prompt = assemble(healed, suffix_text, files)
            total = prompt_tokens(prompt, count_many)
    return InfillPrompt(
        prompt=prompt,
        tokens=total,
        budget_tokens=budget_tokens,
        prefix_start=len(ctx.prefix) - len(prefix_text),
        suffix_end=len(suffix_text),
        files=tuple(uses),
        files_dropped=tuple(dropped),
        repo_level=repo_level,
        heal=healed_text,
    )


def trim_prompt(prompt: Prompt | str, limit: int, count_tokens: object) -> Prompt | str:
    """``prompt`` cut in text to at most ``limit`` tokens, for backends that take text.

    Mirrors ``Codec.fit``: a FIM prompt loses other files (the last first), then whole lines
    at the far ends of prefix and suffix (3:1); other prompts lose whole lines at the start.
    """
    count_many = counter_of(count_tokens)
    if isinstance(prompt, str):
        if sum(count_many([prompt])) <= limit:
            return prompt
        return keep_tail(prompt, limit, count_many).text
    total = prompt_tokens(prompt, count_many)
    segments = list(prompt.segments)
    groups = sorted({s.group for s in segments if s.group is not None}, reverse=True)
    for group in groups:
        if total <= limit:
            break
        segments = [s for s in segments if s.group != group]
        total = prompt_tokens(Prompt(tuple(segments)), count_many)
    roles = [s.role for s in segments]
    if total <= limit:
        return Prompt(tuple(segments))
    if not {"prefix", "suffix"} & set(roles):
        return keep_tail(prompt.text, limit, count_many).text
    pre = roles.index("prefix") if "prefix" in roles else None
    suf = roles.index("suffix") if "suffix" in roles else None
    pre_text = segments[pre].text if pre is not None else ""
    suf_text = segments[suf].text if suf is not None else ""
    fixed = total - sum(count_many([pre_text, suf_text]))
    room = max(0, limit - fixed)
    kept_pre = keep_tail(pre_text, room * 3 // 4, count_many)
    kept_suf = keep_head(suf_text, room - kept_pre.tokens, count_many)
    if kept_suf.whole:
        kept_pre = keep_tail(pre_text, room - kept_suf.tokens, count_many)
    if pre is not None:
        segments[pre] = Segment(kept_pre.text, "prefix")
    if suf is not None:
        segments[suf] = Segment(kept_suf.text, "suffix")
    return Prompt(tuple(segments))


def _with_final_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _fit_files(
    files: Sequence[tuple[str, str]], budget: int, count_many: CountMany
) -> tuple[list[tuple[str, str]], list[FileUse], list[str]]:
    kept: list[tuple[str, str]] = []
    uses: list[FileUse] = []
    dropped: list[str] = []
    header_counts = count_many([f"{path}\n" for path, _ in files])
    for (path, content), header in zip(files, header_counts, strict=True):
        header += 1  # <|file_sep|>
        room = budget - header
        head = keep_head(_with_final_newline(content), room, count_many) if room > 0 else None
        if head is None or not head.text or (not head.whole and head.tokens < _MIN_FILE_TOKENS):
            dropped.append(path)
            continue
        kept.append((path, head.text))
        uses.append(FileUse(path, header + head.tokens, truncated=not head.whole))
        budget -= header + head.tokens
    return kept, uses, dropped
