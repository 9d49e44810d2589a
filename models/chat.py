"""ChatML prompts for instruct models, built through the tokenizer's own chat template.

The template is rendered with placeholders instead of the messages, and the messages are put
back as literal segments: a message that quotes ``<|im_end|>`` cannot end its turn early.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from models.errors import InvalidRequestError
from models.tokens import IM_END, IM_START, Prompt, Segment, join_prompt

logger = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
ROLES = ("system", "user", "assistant")

# Renders messages (role/content dicts) to the template's text, generation prompt included.
TemplateRenderer = Callable[[list[dict[str, str]]], str]


def chat_prompt(
    messages: Sequence[dict[str, str]],
    *,
    system_prompt: str | None = None,
    render: TemplateRenderer | None = None,
) -> Prompt:
    """The prompt for ``messages``, ending where the assistant's reply starts.

    ``system_prompt`` replaces a leading system message or is put before the others; without
    either, the template's default applies. ``render`` is the tokenizer's chat template
    (``None``: plain ChatML as Qwen2.5-Coder-Instruct writes it).
    """
    msgs = normalize_messages(messages, system_prompt)
    renderer = render or render_chatml
    holders = [f"\x00evoselfcode-message-{i}\x00" for i in range(len(msgs))]
    rendered = renderer(
        [{"role": m["role"], "content": h} for m, h in zip(msgs, holders, strict=True)]
    )
    segments: list[Segment] = []
    rest = rendered
    for msg, holder in zip(msgs, holders, strict=True):
        before, found, after = rest.partition(holder)
        if not found or holder in after:
            if renderer is render_chatml:
                raise AssertionError("render_chatml keeps message contents intact")
            # A template that rewrites contents: fall back to plain ChatML, still literal.
            logger.warning("the chat template alters message contents; using plain ChatML")
            return chat_prompt(msgs)
        segments += [Segment(before, "template"), Segment(msg["content"], "text")]
        rest = after
    segments.append(Segment(rest, "template"))
    return join_prompt(segments)


def chat_prompts(
    conversations: Sequence[Sequence[dict[str, str]]],
    *,
    system_prompt: str | None = None,
    render: TemplateRenderer | None = None,
) -> list[Prompt]:
    """``chat_prompt`` of each conversation, for ``CodeModel.chat_batch``."""
    return [chat_prompt(m, system_prompt=system_prompt, render=render) for m in conversations]


def normalize_messages(
    messages: Sequence[dict[str, str]], system_prompt: str | None = None
) -> list[dict[str, str]]:
    """Checked copies of ``messages`` with ``system_prompt`` applied."""
    if not messages:
        raise InvalidRequestError("chat needs at least one message")
    msgs: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        role, content = m.get("role"), m.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise InvalidRequestError(
                f"message {i} must be {{'role': one of {ROLES}, 'content': str}}, got {m!r:.120}"
            )
        msgs.append({"role": role, "content": content})
    if system_prompt is not None:
        if msgs[0]["role"] == "system":
            msgs = msgs[1:]
        msgs.insert(0, {"role": "system", "content": system_prompt})
    return msgs


def render_chatml(messages: list[dict[str, str]]) -> str:
    """Qwen2.5-Coder-Instruct's template, for remote models without a local tokenizer."""
    if messages[0]["role"] != "system":
        messages = [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, *messages]
    turns = "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in messages)
    return f"{turns}{IM_START}assistant\n"
