"""OpenAIClient against the test server: exact payloads, parsed logprobs, repairs, streaming,
and keys that never show."""

from __future__ import annotations

import logging
import traceback

import pytest

from evolution.clients import (
    AuthenticationError,
    Choice,
    ClientConfig,
    ClientConfigError,
    OpenAIClient,
    ServerError,
    StreamDelta,
)
from evolution.testserver import Fault, ScriptedServer, default_logprob

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


async def test_chat_payload_is_exactly_what_was_asked(test_server, config_for) -> None:
    async with OpenAIClient(config_for()) as client:
        await client.chat(
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            max_tokens=64,
            temperature=0.2,
            top_p=0.9,
            n=2,
            stop=["\n\n"],
            logprobs=3,
            seed=7,
            extra={"top_k": 20},
        )
        await client.chat("plain", model="qwen2.5-coder-14b-instruct")
    full, plain = test_server.bodies(CHAT)
    assert full == {
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "model": "qwen2.5-coder-32b-instruct",
        "n": 2,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "seed": 7,
        "max_tokens": 64,
        "logprobs": True,
        "top_logprobs": 3,
        "top_k": 20,
    }
    assert plain == {
        "messages": [{"role": "user", "content": "plain"}],
        "model": "qwen2.5-coder-14b-instruct",
        "n": 1,
    }


async def test_completion_payload_matches_seed_002s_example(test_server, config_for) -> None:
    async with OpenAIClient(config_for(model="Qwen2.5-Coder-32B")) as client:
        await client.complete(
            "<PROMPT>", max_tokens=16, temperature=0.4, top_p=0.9, n=4, stop=["(", " ", "\n"]
        )
        await client.complete("x", logprobs=2, echo=True, max_tokens=0)
    names, scoring = test_server.bodies(COMPLETIONS)
    assert names == {
        "model": "Qwen2.5-Coder-32B",
        "prompt": "<PROMPT>",
        "max_tokens": 16,
        "temperature": 0.4,
        "top_p": 0.9,
        "n": 4,
        "stop": ["(", " ", "\n"],
    }
    assert scoring == {
        "prompt": "x",
        "model": "Qwen2.5-Coder-32B",
        "n": 1,
        "max_tokens": 0,
        "logprobs": 2,
        "echo": True,
    }


async def test_headers_carry_the_key_and_the_configured_headers(test_server, config_for):
    config = config_for(api_key="sk-abc", headers={"X-Team": "evo", "X-Api-Key": "k-123"})
    async with OpenAIClient(config) as client:
        await client.chat("hi")
    headers = test_server.requests[0].headers
    assert headers["authorization"] == "Bearer ***"  # recorded redacted: it was sent
    assert headers["x-team"] == "evo" and headers["x-api-key"] == "k-123"
    assert headers["user-agent"].startswith("evoselfcode-clients/")
    assert "k-123" not in repr(config)


async def test_the_right_key_passes_a_server_that_requires_it() -> None:
    with ScriptedServer(api_key="sk-right") as server:
        config = ClientConfig(
            base_url=server.base_url, model="m", api_key="sk-right", max_retries=0
        )
        async with OpenAIClient(config) as client:
            [choice] = await client.chat("hi")
        assert choice.finish_reason == "stop"


async def test_chat_logprobs_are_parsed(test_server, config_for) -> None:
    test_server.add_rule(prompt="Does", text="Yes", logprobs=[{"Yes": -0.05, "No": -3.2}])
    async with OpenAIClient(config_for(name="verifier")) as client:
        [choice] = await client.chat("Does the code do what it says?", max_tokens=1, logprobs=5)
    assert choice == Choice(
        index=0,
        text="Yes",
        finish_reason="stop",
        tokens=("Yes",),
        token_logprobs=(-0.05,),
        top_logprobs=({"Yes": -0.05, "No": -3.2},),
    )


async def test_completion_logprobs_with_echo_are_parsed(test_server, config_for) -> None:
    test_server.add_rule(text=" b")
    async with OpenAIClient(config_for()) as client:
        [choice] = await client.complete("a", max_tokens=4, logprobs=1, echo=True)
    assert choice.text == "a b"
    assert choice.tokens == ("a", " b")
    assert choice.token_logprobs == (None, default_logprob(" b"))
    assert choice.top_logprobs == ({}, {" b": default_logprob(" b")})
    assert choice.text_offsets == (0, 1)


async def test_n_choices_come_back_in_order(test_server, config_for) -> None:
    test_server.add_rule(texts=["add", "merge", "split"])
    async with OpenAIClient(config_for()) as client:
        choices = await client.complete("def ", n=3, max_tokens=8)
    assert [(c.index, c.text) for c in choices] == [(0, "add"), (1, "merge"), (2, "split")]


async def test_a_server_ignoring_n_is_asked_again_for_the_rest(test_server, config_for, caplog):
    test_server.add_rule(texts=["add", "merge", "split", "join"])
    test_server.inject(Fault.of("ignore_n"))
    async with OpenAIClient(config_for()) as client:
        choices = await client.complete("def ", n=4, max_tokens=8)
    assert [c.index for c in choices] == [0, 1, 2, 3]
    assert [c.text for c in choices] == ["add", "add", "merge", "split"]
    assert [b["n"] for b in test_server.bodies(COMPLETIONS)] == [4, 3]
    assert "returned 1 of 4 choices" in caplog.text


async def test_filling_n_can_be_turned_off(test_server, config_for) -> None:
    test_server.inject(Fault.of("ignore_n"))
    async with OpenAIClient(config_for(fill_missing_choices=False)) as client:
        assert len(await client.complete("def ", n=4)) == 1


async def test_a_server_ignoring_stop_is_cut_client_side(test_server, config_for, caplog):
    test_server.add_rule(text="sample_random(k):\n    pass")
    test_server.inject(Fault.of("ignore_stop"))
    async with OpenAIClient(config_for()) as client:
        [choice] = await client.complete("def ", max_tokens=16, stop=["(", "\n"], logprobs=1)
    assert (choice.text, choice.finish_reason) == ("sample_random", "stop")
    assert choice.tokens == ("sample_random",) and choice.token_logprobs is not None
    assert len(choice.token_logprobs) == 1
    assert "ignored the stop sequences" in caplog.text


async def test_stop_is_not_applied_to_the_echoed_prompt(test_server, config_for) -> None:
    test_server.add_rule(text=" x(1)")
    test_server.inject(Fault.of("ignore_stop"))
    async with OpenAIClient(config_for()) as client:
        [choice] = await client.complete("f(", max_tokens=8, stop=["("], echo=True)
    assert choice.text == "f( x"


async def test_streaming_chat_and_completions(test_server, config_for) -> None:
    test_server.add_rule(text="def f():\n    return 1")
    async with OpenAIClient(config_for()) as client:
        chat = [d async for d in client.stream_chat("write f", max_tokens=32)]
        text = [d async for d in client.stream_complete("def", max_tokens=3)]
    assert "".join(d.text for d in chat) == "def f():\n    return 1"
    assert chat[-1] == StreamDelta(0, "", "stop")
    assert "".join(d.text for d in text) == "def f(" and text[-1].finish_reason == "length"
    assert all(b["stream"] is True for b in test_server.bodies())


async def test_a_failing_stream_start_is_retried(test_server, config_for, sleeps) -> None:
    test_server.inject(Fault.http_error(503))
    async with OpenAIClient(config_for(), sleep=sleeps) as client:
        chunks = [d.text async for d in client.stream_chat("hi")]
    assert "".join(chunks) and len(test_server.requests) == 2


async def test_a_missing_model_name_is_refused_before_sending(test_server) -> None:
    async with OpenAIClient(ClientConfig(base_url=test_server.base_url, name="verifier")) as client:
        with pytest.raises(ClientConfigError, match="verifier: no model name"):
            await client.chat("hi")
    assert test_server.requests == []


async def test_models_lists_the_servers_models(test_server, config_for) -> None:
    test_server.set_script({"models": ["qwen2.5-coder-32b-instruct", "qwen2.5-coder-14b-instruct"]})
    async with OpenAIClient(config_for()) as client:
        assert await client.models() == ["qwen2.5-coder-32b-instruct", "qwen2.5-coder-14b-instruct"]


async def test_the_key_never_shows_in_logs_reprs_or_errors(test_server, config_for, caplog):
    key, header_key = "sk-SECRET-0123456789", "hdr-SECRET-987"
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log requests at DEBUG
    config = config_for(api_key=key, headers={"X-Api-Key": header_key}, max_retries=2)
    test_server.inject(Fault.http_error(503, count=2), Fault.http_error(401))
    client = OpenAIClient(config)
    shown = [repr(config), str(config), repr(client), repr(client.transport.config)]
    with pytest.raises(AuthenticationError) as caught:
        await client.chat("hi")
    await client.aclose()
    error = caught.value
    shown += [str(error), repr(error), "".join(traceback.format_exception(error)), caplog.text]
    shown += [repr(r.__dict__) for r in caplog.records]
    assert "retrying" in caplog.text and "HTTP Request" in caplog.text  # the logs were captured
    for text in shown:
        assert key not in text and header_key not in text


async def test_an_injected_http_client_is_used_and_left_open(test_server, config_for) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        async with OpenAIClient(config_for(), http=http) as client:
            await client.chat("hi")
        assert not http.is_closed
        assert (await http.get(test_server.base_url + "/models")).status_code == 200


async def test_a_stream_cut_mid_answer_raises_server_error(test_server, config_for) -> None:
    test_server.add_rule(text="one two three four", token_delay=0.05)
    async with OpenAIClient(config_for()) as client:
        seen = []
        with pytest.raises(ServerError, match="connection closed"):
            async for delta in client.stream_chat("x"):
                seen.append(delta.text)
                if len(seen) == 2:
                    test_server.stop()  # the server goes away mid-stream
    assert seen[:2] == ["one", " two"]
