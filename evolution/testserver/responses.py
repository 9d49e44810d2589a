"""Scripted texts turned into OpenAI-shaped responses: chat, completions, their stream chunks.

Honoured as a real server would: ``n`` choices (texts cycled), ``stop`` (text cut before the
first stop sequence, finish_reason "stop"), ``max_tokens`` (cut by the stand-in tokenizer,
finish_reason "length"; the legacy completions default of 16 applies when absent), ``echo``,
chat ``logprobs``/``top_logprobs`` and completions ``logprobs: k`` (the k best candidates plus
the chosen token, as OpenAI does), and ``usage`` counted in stand-in tokens.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from evolution.testserver.script import Rule
from evolution.testserver.tokens import default_logprob, tokenize

LEGACY_COMPLETIONS_MAX_TOKENS = 16


@dataclass
class TokenLogprob:
    """One token, its log-probability and the candidates scripted at its position."""

    token: str
    logprob: float
    candidates: dict[str, float]

    def top(self, k: int) -> list[tuple[str, float]]:
        return sorted(self.candidates.items(), key=lambda kv: kv[1], reverse=True)[: max(k, 0)]


@dataclass
class GeneratedChoice:
    text: str
    tokens: list[TokenLogprob]
    finish_reason: str


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cuts = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return text[: min(cuts)] if cuts else text


def _scored(tokens: list[str], scripted: Sequence[dict[str, float]]) -> list[TokenLogprob]:
    out = []
    for position, token in enumerate(tokens):
        candidates = dict(scripted[position]) if position < len(scripted) else {}
        logprob = float(candidates.get(token, default_logprob(token)))
        candidates[token] = logprob
        out.append(TokenLogprob(token, logprob, candidates))
    return out


def generate_choices(
    rule: Rule, count: int, *, max_tokens: int | None, stop: Sequence[str], ignore_stop: bool
) -> list[GeneratedChoice]:
    """``count`` choices from ``rule``'s texts, cut at stop sequences and ``max_tokens``."""
    replies = rule.replies
    choices = []
    for index in range(count):
        text = replies[index % len(replies)]
        if rule.honour_stop and not ignore_stop:
            text = _cut_at_stop(text, stop)
        tokens = tokenize(text)
        truncated = max_tokens is not None and len(tokens) > max_tokens
        if truncated:
            tokens = tokens[: max(max_tokens or 0, 0)]
        # A natural end and a stop sequence both report "stop", as OpenAI does.
        finish = rule.finish_reason or ("length" if truncated else "stop")
        choices.append(GeneratedChoice("".join(tokens), _scored(tokens, rule.logprobs), finish))
    return choices


def prompt_logprobs(prompt: str) -> list[TokenLogprob]:
    """Echoed prompt tokens with their default log-probabilities."""
    return _scored(tokenize(prompt), [])


def usage(prompt_text: str, choices: Sequence[GeneratedChoice]) -> dict[str, int]:
    prompt_tokens = len(tokenize(prompt_text))
    completion_tokens = sum(len(c.tokens) for c in choices)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


# --- chat ----------------------------------------------------------------------------------


def _chat_token_entry(item: TokenLogprob, top_k: int) -> dict[str, Any]:
    return {
        "token": item.token,
        "logprob": item.logprob,
        "bytes": list(item.token.encode("utf-8")),
        "top_logprobs": [
            {"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))}
            for t, lp in item.top(top_k)
        ],
    }


def chat_completion(
    response_id: str,
    model: str,
    choices: Sequence[GeneratedChoice],
    *,
    logprobs: bool,
    top_logprobs: int,
    prompt_text: str,
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": index,
                "message": {"role": "assistant", "content": choice.text},
                "logprobs": (
                    {"content": [_chat_token_entry(t, top_logprobs) for t in choice.tokens]}
                    if logprobs
                    else None
                ),
                "finish_reason": choice.finish_reason,
            }
            for index, choice in enumerate(choices)
        ],
        "usage": usage(prompt_text, choices),
    }


def chat_chunks(
    response_id: str,
    model: str,
    choices: Sequence[GeneratedChoice],
    *,
    logprobs: bool,
    top_logprobs: int,
    include_usage: bool,
    prompt_text: str,
) -> Iterator[dict[str, Any]]:
    """``chat.completion.chunk`` objects: role, one per token, the finish, optionally usage."""
    created = int(time.time())

    def chunk(index: int, delta: dict[str, Any], finish: str | None, lp: Any = None) -> dict:
        return {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": index, "delta": delta, "logprobs": lp, "finish_reason": finish}],
        }

    for index, choice in enumerate(choices):
        yield chunk(index, {"role": "assistant", "content": ""}, None)
        for item in choice.tokens:
            lp = {"content": [_chat_token_entry(item, top_logprobs)]} if logprobs else None
            yield chunk(index, {"content": item.token}, None, lp)
        yield chunk(index, {}, choice.finish_reason)
    if include_usage:
        yield {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage(prompt_text, choices),
        }


# --- completions ---------------------------------------------------------------------------


def _completion_logprobs(
    items: Sequence[TokenLogprob], k: int, *, first_is_null: bool, offset: int
) -> dict[str, Any]:
    tokens, token_logprobs, top, text_offset = [], [], [], []
    for position, item in enumerate(items):
        tokens.append(item.token)
        text_offset.append(offset)
        offset += len(item.token)
        if first_is_null and position == 0:
            token_logprobs.append(None)  # nothing precedes the first prompt token
            top.append(None)
        else:
            token_logprobs.append(item.logprob)
            best = dict(item.top(k))
            best[item.token] = item.logprob  # OpenAI always includes the chosen token
            top.append(best)
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top,
        "text_offset": text_offset,
    }


def _merge_logprobs(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    keys = ("tokens", "token_logprobs", "top_logprobs", "text_offset")
    return {key: [v for part in parts for v in part[key]] for key in keys}


def completion_choice(
    index: int, prompt: str, choice: GeneratedChoice, *, logprobs: int | None, echo: bool
) -> dict[str, Any]:
    text = prompt + choice.text if echo else choice.text
    lp = None
    if logprobs is not None:
        parts = []
        if echo:
            parts.append(
                _completion_logprobs(
                    prompt_logprobs(prompt), logprobs, first_is_null=True, offset=0
                )
            )
        parts.append(
            _completion_logprobs(
                choice.tokens, logprobs, first_is_null=False, offset=len(prompt) if echo else 0
            )
        )
        lp = _merge_logprobs(parts)
    return {"text": text, "index": index, "logprobs": lp, "finish_reason": choice.finish_reason}


def text_completion(
    response_id: str,
    model: str,
    batches: Sequence[tuple[str, Sequence[GeneratedChoice]]],
    *,
    logprobs: int | None,
    echo: bool,
) -> dict[str, Any]:
    """A ``text_completion`` for one or several prompts, each with its generated choices."""
    out_choices = []
    for prompt, choices in batches:
        for choice in choices:
            out_choices.append(
                completion_choice(len(out_choices), prompt, choice, logprobs=logprobs, echo=echo)
            )
    all_choices = [c for _, choices in batches for c in choices]
    return {
        "id": response_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": out_choices,
        "usage": usage("".join(p for p, _ in batches), all_choices),
    }


def completion_chunks(
    response_id: str,
    model: str,
    batches: Sequence[tuple[str, Sequence[GeneratedChoice]]],
    *,
    logprobs: int | None,
    echo: bool,
) -> Iterator[dict[str, Any]]:
    """Streamed ``text_completion`` chunks: the echoed prompt, one per token, the finish."""
    created = int(time.time())

    def chunk(index: int, text: str, finish: str | None, lp: Any = None) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [{"text": text, "index": index, "logprobs": lp, "finish_reason": finish}],
        }

    index = 0
    for prompt, choices in batches:
        for choice in choices:
            offset = 0
            if echo:
                lp = None
                if logprobs is not None:
                    lp = _completion_logprobs(
                        prompt_logprobs(prompt), logprobs, first_is_null=True, offset=0
                    )
                yield chunk(index, prompt, None, lp)
                offset = len(prompt)
            for item in choice.tokens:
                lp = None
                if logprobs is not None:
                    lp = _completion_logprobs([item], logprobs, first_is_null=False, offset=offset)
                offset += len(item.token)
                yield chunk(index, item.token, None, lp)
            yield chunk(index, "", choice.finish_reason)
            index += 1


# --- other ---------------------------------------------------------------------------------


def models_list(models: Sequence[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "evoselfcode-testserver"}
            for m in models
        ],
    }


def error_body(message: str, error_type: str, code: str | None = None) -> dict[str, Any]:
    """An error in OpenAI's shape."""
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}
