"""EndpointClient and field maps: a TGI-shaped route and a nested one, round trip over HTTP."""

from __future__ import annotations

import pytest

from evolution.clients import (
    ClientConfigError,
    EndpointClient,
    FieldMap,
    MalformedResponse,
    OpenAIClient,
    completion_client,
)
from evolution.testserver import Fault

TGI = {
    "prompt": "inputs",
    "max_tokens": "parameters.max_new_tokens",
    "temperature": "parameters.temperature",
    "stop": "parameters.stop",
    "text": "generated_text",
}


async def test_tgi_style_field_map_round_trip(test_server, config_for) -> None:
    test_server.add_rule(path="/generate", texts=["return a + b\n\nprint(1)", "return b + a"])
    config = config_for(base_url=test_server.root_url)
    async with EndpointClient(config, TGI, route="/generate") as client:
        [one] = await client.complete("def add(a, b):", max_tokens=8, temperature=0.2, stop="\n\n")
        two = await client.complete(
            "def add(a, b):", max_tokens=8, n=2, extra={"parameters": {"seed": 3}}
        )
    assert one.text == "return a + b" and one.index == 0
    # no "n" in the map: one request per choice, and extra is merged into the nested object
    assert [c.index for c in two] == [0, 1] and len(test_server.requests) == 3
    bodies = test_server.bodies("/generate")
    assert bodies[0] == {
        "inputs": "def add(a, b):",
        "parameters": {"max_new_tokens": 8, "temperature": 0.2, "stop": ["\n\n"]},
    }
    assert bodies[1] == {
        "inputs": "def add(a, b):",
        "parameters": {"max_new_tokens": 8, "seed": 3},
    }


async def test_nested_answers_with_n_and_finish_reasons(test_server, config_for) -> None:
    fields = {
        "prompt": "input.text",
        "n": "options.count",
        "max_tokens": "options.limit",
        "text": "outputs.*.content",
        "finish_reason": "outputs.*.reason",
    }
    test_server.set_script(
        {
            "rules": [{"texts": ["alpha beta", "gamma"]}],
            "custom_route": {"route": "/api/gen", "fields": fields},
        }
    )
    config = config_for(base_url=test_server.root_url, model="")
    async with EndpointClient(config, fields, route="/api/gen") as client:
        choices = await client.complete("p", n=2, max_tokens=1)
    assert [(c.text, c.finish_reason) for c in choices] == [("alpha", "length"), ("gamma", "stop")]
    assert test_server.bodies() == [{"input": {"text": "p"}, "options": {"count": 2, "limit": 1}}]


async def test_endpoint_ignoring_n_is_asked_again(test_server, config_for) -> None:
    fields = {**TGI, "n": "parameters.n"}
    test_server.inject(Fault.of("ignore_n"))
    async with EndpointClient(config_for(base_url=test_server.root_url), fields) as client:
        choices = await client.complete("p", n=3)
    assert len(choices) == 3
    assert [b["parameters"]["n"] for b in test_server.bodies()] == [3, 2]


async def test_wrong_field_map_gives_malformed_response_naming_the_path(test_server, config_for):
    fields = {**TGI, "text": "output.text"}
    async with EndpointClient(config_for(base_url=test_server.root_url), fields) as client:
        with pytest.raises(MalformedResponse, match=r"no 'output' in the answer .*generated_text"):
            await client.complete("p")


async def test_endpoint_retries_like_the_openai_client(test_server, config_for, sleeps) -> None:
    test_server.inject(Fault.http_error(502), Fault.of("drop"))
    client = EndpointClient(config_for(base_url=test_server.root_url), TGI, sleep=sleeps)
    async with client:
        assert len(await client.complete("p")) == 1
    assert len(sleeps.delays) == 2


def test_field_maps_read_top_level_lists_and_indexes() -> None:
    hf = FieldMap({"prompt": "inputs", "text": "*.generated_text"})
    assert [
        c.text for c in hf.choices("u", [{"generated_text": "a"}, {"generated_text": "b"}])
    ] == ["a", "b"]
    first = FieldMap(
        {
            "prompt": "p",
            "text": "outputs.0.text",
            "tokens": "outputs.0.tokens",
            "token_logprobs": "outputs.0.lps",
        }
    )
    [choice] = first.choices(
        "u", {"outputs": [{"text": "ab", "tokens": ["a", "b"], "lps": [-1, -2]}]}
    )
    assert choice.tokens == ("a", "b") and choice.token_logprobs == (-1.0, -2.0)
    with pytest.raises(MalformedResponse, match="does not hold text"):
        hf.choices("u", [{"generated_text": 3}])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prompt": "inputs"}, "where 'text' goes"),
        ({"text": "t"}, "where 'prompt' goes"),
        ({"prompt": "p", "text": "t", "max_new_tokens": "x"}, "unknown field 'max_new_tokens'"),
        ({"prompt": "a..b", "text": "t"}, "not a dotted path"),
        ({"prompt": "items.*.p", "text": "t"}, "request paths are plain names"),
        ({"prompt": "p", "text": "a.*.b.*.c"}, "at most one"),
    ],
)
def test_bad_field_maps_name_the_field(fields: dict, message: str) -> None:
    with pytest.raises(ClientConfigError, match=message):
        FieldMap(fields)


async def test_completion_client_factory_picks_by_mode(test_server, config_for) -> None:
    openai = completion_client(config_for(), mode="openai")
    endpoint = completion_client(
        config_for(base_url=test_server.root_url), mode="endpoint", field_map=TGI
    )
    assert isinstance(openai, OpenAIClient) and isinstance(endpoint, EndpointClient)
    assert (await endpoint.complete("p"))[0].text
    await openai.aclose()
    await endpoint.aclose()
    with pytest.raises(ClientConfigError, match="mode must be"):
        completion_client(config_for(), mode="grpc")  # type: ignore[arg-type]
