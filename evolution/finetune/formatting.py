"""Render a training pair as token ids and labels, exactly as serving prompts the model.

Two formats:

- chat: ``models.chat.chat_prompt`` over the tokenizer's chat template (ChatML for Qwen)
  renders ``[system, user]`` with the generation prompt, as the model runtime's ``chat`` does;
  the response is the code followed by ``<|im_end|>``, the token serving stops on.
- FIM (fill-in-the-middle): a random middle span of the code, prompted in Qwen's PSM format
  by ``models.prompts.fim_prompt`` (what inline completion sends), followed by ``<|endoftext|>``.

Prompts are encoded by the runtime's ``Codec`` exactly as serving encodes them (user text
literal, template tokens special); the response is encoded as literal text, as the model then
generates it. Labels are built here: the prompt is masked with -100 and the end token is KEPT.
Qwen's pad token is its EOS, and a collator that masks padding would mask every EOS too, so
the model would never learn to stop.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any, Literal

from evolution.finetune.records import TrainingPair
from models.tokens import ENDOFTEXT, IM_END

IGNORE_INDEX = -100
Kind = Literal["chat", "fim", "repo-fim"]  # repo-fim: a workspace file in the repo-level format


@dataclass(frozen=True)
class Example:
    """One tokenized training example; ``labels[i]`` is -100 where no loss is taken."""

    input_ids: list[int]
    labels: list[int]
    kind: Kind
    key: str  # the pair it came from

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def target_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


class ExampleRenderer:
    """Renders pairs for one tokenizer, through the serving runtime's prompt builders."""

    def __init__(self, tokenizer: Any, system_prompt: str) -> None:
        from models.encoding import Codec

        self.tokenizer = tokenizer
        self.codec = Codec(tokenizer)
        self.system_prompt = system_prompt
        self.chat_end = self.codec.special_id(IM_END)
        self.eos = self.codec.special_id(ENDOFTEXT)

    def chat(self, pair: TrainingPair) -> Example:
        """The pair as a chat turn: loss on the code and ``<|im_end|>`` only."""
        from models.chat import chat_prompt

        prompt = chat_prompt(
            [{"role": "user", "content": pair.instruct}],
            system_prompt=self.system_prompt or None,
            render=self._render_template,
        )
        return self._example(prompt, pair.code, self.chat_end, "chat", pair.key)

    def fim(self, pair: TrainingPair, rng: random.Random) -> Example | None:
        """The code with a random middle span to fill, or None when the code has none."""
        from models.prompts import fim_prompt

        span = choose_middle(pair.code, rng)
        if span is None:
            return None
        prefix, middle, suffix = span
        return self._example(fim_prompt(prefix, suffix), middle, self.eos, "fim", pair.key)

    def completion(self, question: Any, middle: str, kind: Kind, key: str) -> Example:
        """A ready FIM prompt (up to ``<|fim_middle|>``) answered by ``middle``: loss on the
        middle and ``<|endoftext|>`` only (the workspace's examples, ``workspace_data.py``)."""
        return self._example(question, middle, self.eos, kind, key)

    def _render_template(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    def _example(self, prompt: Any, response: str, end_id: int, kind: Kind, key: str) -> Example:
        prompt_ids = self.codec.encode_prompt(prompt)
        # The response is literal text: code that quotes "<|im_end|>" must not end the turn.
        response_ids = [*self.codec.encode_literal(response), end_id]
        return Example(
            input_ids=[*prompt_ids, *response_ids],
            labels=[IGNORE_INDEX] * len(prompt_ids) + response_ids,
            kind=kind,
            key=key,
        )


def choose_middle(code: str, rng: random.Random) -> tuple[str, str, str] | None:
    """Pick (prefix, middle, suffix) like the cursor positions of inline completion.

    Half the time the middle is the rest of a line from a cursor inside it (plus up to two
    following lines); otherwise it is one to five whole lines. The middle always has code.
    """
    lines = code.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if line.strip()]
    if not candidates:
        return None
    first = rng.choice(candidates)
    starts = [0, *itertools.accumulate(len(line) for line in lines)]
    line = lines[first]
    if rng.random() < 0.5:
        last = min(len(lines) - 1, first + rng.randint(0, 2))
        indent = len(line) - len(line.lstrip())
        content_end = len(line.rstrip("\r\n"))
        start = starts[first] + rng.randint(indent, max(indent, content_end - 1))
        end = starts[last] + len(lines[last].rstrip("\r\n"))
    else:
        start = starts[first]
        end = starts[min(len(lines), first + rng.randint(1, 5))]
    middle = code[start:end]
    if not middle.strip():
        return None
    return code[:start], middle, code[end:]
