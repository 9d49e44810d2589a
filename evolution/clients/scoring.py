"""``ScoringClient``: token logprobs and perplexity of a text, from the server's own model.

It asks ``/v1/completions`` to echo the text with logprobs and generate nothing
(``max_tokens: 0``; servers that refuse 0 are asked for 1 token, which is then dropped).
``prefix`` scores the text *given* a context, e.g. code given its instruction: the prefix's
tokens are left out (a token that straddles the boundary counts as the text's). Servers
without echo or logprobs get a ``LogprobsUnsupported`` that says so.

    async with OpenAIClient(config) as client:
        scores = await ScoringClient(client).score(code, prefix=instruction)
        scores.perplexity, scores.mean_logprob, scores.tokens
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evolution.clients.choice import Choice, token_offsets
from evolution.clients.errors import BadRequest, LogprobsUnsupported
from evolution.clients.openai import COMPLETIONS_PATH, OpenAIClient


@dataclass(frozen=True)
class TokenScores:
    """The scored tokens of a text and their logprobs (natural log), in parallel.

    Without a prefix the text's first token has no logprob (nothing precedes it) and is left out.
    """

    tokens: tuple[str, ...]
    logprobs: tuple[float, ...]

    @property
    def total_logprob(self) -> float:
        return sum(self.logprobs)

    @property
    def mean_logprob(self) -> float:
        if not self.logprobs:
            raise ValueError("no token of the text was scored (it is empty or a single token)")
        return self.total_logprob / len(self.logprobs)

    @property
    def perplexity(self) -> float:
        """exp(−mean logprob): lower means the model finds the text more expected."""
        return math.exp(-self.mean_logprob)


class ScoringClient:
    """Scores texts through an ``OpenAIClient`` (whose retries and limits apply)."""

    def __init__(self, client: OpenAIClient, *, model: str | None = None) -> None:
        self.client = client
        self.model = model
        self._max_tokens = 0  # becomes 1 once a server refuses 0

    def __repr__(self) -> str:
        return f"ScoringClient({self.client!r})"

    async def score(self, text: str, *, prefix: str = "") -> TokenScores:
        """Logprobs of the tokens of ``text`` (given ``prefix``, when there is one)."""
        prompt = prefix + text
        choice = await self._echo(prompt)
        url = self.client.config.url(COMPLETIONS_PATH)
        if not choice.has_logprobs or choice.tokens is None or choice.token_logprobs is None:
            raise LogprobsUnsupported(url, "the answer has no token logprobs")
        if not choice.text.startswith(prompt) or not "".join(choice.tokens).startswith(prompt):
            raise LogprobsUnsupported(url, "the server did not echo the prompt's tokens")
        offsets = choice.text_offsets or token_offsets(choice.tokens)
        tokens, logprobs = [], []
        for token, logprob, offset in zip(
            choice.tokens, choice.token_logprobs, offsets, strict=True
        ):
            if offset >= len(prompt):
                break  # the generated token of a max_tokens=1 request
            if offset + len(token) <= len(prefix):
                continue  # context only
            if logprob is not None:  # the very first token has none: nothing precedes it
                tokens.append(token)
                logprobs.append(logprob)
        return TokenScores(tuple(tokens), tuple(logprobs))

    async def token_logprobs(self, text: str) -> list[float]:
        """The logprob of each token of ``text`` after the first."""
        return list((await self.score(text)).logprobs)

    async def perplexity(self, text: str, *, prefix: str = "") -> float:
        return (await self.score(text, prefix=prefix)).perplexity

    async def _echo(self, prompt: str) -> Choice:
        url = self.client.config.url(COMPLETIONS_PATH)
        try:
            [choice, *_] = await self.client.complete(
                prompt, model=self.model, max_tokens=self._max_tokens, logprobs=1, echo=True
            )
            return choice
        except BadRequest as refused:
            if self._max_tokens != 0:
                raise LogprobsUnsupported(
                    url, f"echo with logprobs was refused ({refused.detail})"
                ) from refused
        self._max_tokens = 1
        try:
            [choice, *_] = await self.client.complete(
                prompt, model=self.model, max_tokens=1, logprobs=1, echo=True
            )
            return choice
        except BadRequest as refused:
            raise LogprobsUnsupported(
                url, f"echo with logprobs was refused ({refused.detail})"
            ) from refused
