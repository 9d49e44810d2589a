"""ScoringClient: logprobs and perplexity from echo, the max_tokens fallback, clear refusals."""

from __future__ import annotations

import math

import pytest

from evolution.clients import LogprobsUnsupported, OpenAIClient, ScoringClient
from evolution.testserver import Fault, default_logprob, tokenize

CODE = "def add(a, b):\n    return a + b\n"


def _expected(tokens: list[str]) -> list[float]:
    return [default_logprob(t) for t in tokens]


async def test_token_logprobs_and_perplexity_of_a_text(test_server, config_for) -> None:
    async with OpenAIClient(config_for()) as client:
        scorer = ScoringClient(client)
        scores = await scorer.score(CODE)
        perplexity = await scorer.perplexity(CODE)
    tokens = tokenize(CODE)
    assert scores.tokens == tuple(tokens[1:])  # the first token has nothing before it
    assert list(scores.logprobs) == _expected(tokens[1:])
    mean = sum(_expected(tokens[1:])) / (len(tokens) - 1)
    assert math.isclose(perplexity, math.exp(-mean))
    body = test_server.bodies("/v1/completions")[0]
    assert (body["echo"], body["max_tokens"], body["logprobs"]) == (True, 0, 1)


async def test_prefix_is_context_only(test_server, config_for) -> None:
    prefix = "# add two numbers\n"
    async with OpenAIClient(config_for()) as client:
        scores = await ScoringClient(client).score(CODE, prefix=prefix)
    # the stand-in tokenizer glues "\n" to "def": a token across the boundary counts as the text's
    assert scores.tokens[0] == "\ndef" and "".join(scores.tokens) == "\n" + CODE
    assert list(scores.logprobs) == _expected(list(scores.tokens))


async def test_a_server_refusing_max_tokens_0_is_asked_for_one_token(test_server, config_for):
    test_server.add_rule(text=" tail")
    test_server.inject(Fault.http_error(400, count=1))
    async with OpenAIClient(config_for()) as client:
        scorer = ScoringClient(client)
        scores = await scorer.score("x = 1")
        await scorer.score("y = 2")
    assert [b["max_tokens"] for b in test_server.bodies()] == [0, 1, 1]  # remembered
    assert "".join(scores.tokens) == " = 1"  # the generated token was dropped


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault.of("no_logprobs"), "no token logprobs"),
        (Fault.of("ignore_echo"), "did not echo"),
        (Fault.http_error(400, count=2), "echo with logprobs was refused"),
    ],
    ids=["no-logprobs", "no-echo", "refused"],
)
async def test_servers_without_logprobs_get_a_clear_message(
    test_server, config_for, fault, message
):
    test_server.inject(fault)
    async with OpenAIClient(config_for()) as client:
        with pytest.raises(LogprobsUnsupported, match=message) as caught:
            await ScoringClient(client).score(CODE)
    assert "turn scoring off" in str(caught.value)


async def test_a_single_token_has_no_perplexity(test_server, config_for) -> None:
    async with OpenAIClient(config_for()) as client:
        with pytest.raises(ValueError, match="no token of the text was scored"):
            await ScoringClient(client).perplexity("x")
