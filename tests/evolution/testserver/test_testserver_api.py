"""The OpenAI-compatible routes, driven over real HTTP with a plain httpx client."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from evolution.testserver import DEFAULT_TEXT, ScriptedServer, default_logprob, tokenize

CHAT = "/chat/completions"
COMPLETIONS = "/completions"


@pytest.fixture
def http():
    with httpx.Client(timeout=10) as client:
        yield client


def _post(http: httpx.Client, server: ScriptedServer, path: str, body: dict) -> httpx.Response:
    return http.post(server.base_url + path, json=body)


def _chat_body(content: str, **extra) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def test_tokenize_is_reversible_and_logprobs_are_stable() -> None:
    text = "def add(a, b):\n    return a + b  \n"
    assert "".join(tokenize(text)) == text
    assert tokenize("\n    return x") == ["\n    return", " x"]
    assert default_logprob("x") == default_logprob("x") <= 0


def test_chat_answers_from_the_matching_rule_with_scripted_logprobs(test_server, http) -> None:
    test_server.add_rule(prompt="Does the code", text="Yes", logprobs=[{"Yes": -0.05, "No": -3.2}])
    response = _post(
        http, test_server, CHAT, _chat_body("Does the code work?", logprobs=True, top_logprobs=2)
    )
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Yes"}
    assert choice["finish_reason"] == "stop"
    [entry] = choice["logprobs"]["content"]
    assert (entry["token"], entry["logprob"]) == ("Yes", -0.05)
    assert [(t["token"], t["logprob"]) for t in entry["top_logprobs"]] == [
        ("Yes", -0.05),
        ("No", -3.2),
    ]
    assert data["usage"] == {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}


def test_only_the_last_user_message_is_matched(test_server, http) -> None:
    test_server.add_rule(prompt="second", text="matched")
    messages = [
        {"role": "system", "content": "second"},
        {"role": "user", "content": "first"},
    ]
    reply = _post(http, test_server, CHAT, {"model": "m", "messages": messages}).json()
    assert reply["choices"][0]["message"]["content"] == DEFAULT_TEXT


def test_n_choices_cycle_through_texts_and_stop_and_max_tokens_cut(test_server, http) -> None:
    test_server.add_rule(texts=["alpha(x)", "beta gamma delta"])
    body = _chat_body("q", n=3, stop=["("], max_tokens=2)
    choices = _post(http, test_server, CHAT, body).json()["choices"]
    got = [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices]
    assert got == [(0, "alpha", "stop"), (1, "beta gamma", "length"), (2, "alpha", "stop")]


def test_completions_echo_with_logprobs_has_openai_legacy_shape(test_server, http) -> None:
    test_server.add_rule(path="/v1/completions", text=" x + 1")
    prompt = "def f(x):\n    return"
    body = {"model": "m", "prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 5}
    [choice] = _post(http, test_server, COMPLETIONS, body).json()["choices"]
    assert choice["text"] == prompt + " x + 1"
    lp = choice["logprobs"]
    assert "".join(lp["tokens"]) == choice["text"]
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    assert lp["token_logprobs"][1:] == [default_logprob(t) for t in lp["tokens"][1:]]
    assert lp["text_offset"] == [
        sum(len(t) for t in lp["tokens"][:i]) for i in range(len(lp["tokens"]))
    ]
    assert all(
        tok in top for tok, top in zip(lp["tokens"][1:], lp["top_logprobs"][1:], strict=True)
    )


def test_completions_default_to_16_tokens_and_batch_prompts(test_server, http) -> None:
    test_server.add_rule(prompt="long", text=" w" * 40)
    test_server.add_rule(prompt="short", text="ok")
    body = {"model": "m", "prompt": ["long", "short"], "n": 2}
    choices = _post(http, test_server, COMPLETIONS, body).json()["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2, 3]
    assert [c["finish_reason"] for c in choices] == ["length", "length", "stop", "stop"]
    assert choices[0]["text"] == " w" * 16
    assert choices[2]["text"] == "ok" and choices[2]["logprobs"] is None


def _events(response: httpx.Response) -> list:
    lines = [line for line in response.text.splitlines() if line]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def test_chat_streaming_sends_deltas_that_add_up_and_usage(test_server, http) -> None:
    test_server.add_rule(text="def f():\n    return 1")
    body = _chat_body("q", stream=True, stream_options={"include_usage": True}, n=2)
    response = _post(http, test_server, CHAT, body)
    assert response.headers["content-type"] == "text/event-stream"
    events = _events(response)
    for index in (0, 1):
        deltas = [
            e["choices"][0] for e in events if e["choices"] and e["choices"][0]["index"] == index
        ]
        assert deltas[0]["delta"]["role"] == "assistant"
        assert "".join(d["delta"].get("content", "") for d in deltas) == "def f():\n    return 1"
        assert deltas[-1]["finish_reason"] == "stop"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 14


def test_completions_streaming_with_logprobs(test_server, http) -> None:
    test_server.add_rule(text="a b c")
    body = {"model": "m", "prompt": "p", "stream": True, "logprobs": 0, "max_tokens": 10}
    events = _events(_post(http, test_server, COMPLETIONS, body))
    texts = [e["choices"][0]["text"] for e in events]
    assert "".join(texts) == "a b c"
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    logprobs = [e["choices"][0]["logprobs"]["token_logprobs"][0] for e in events[:-1]]
    assert logprobs == [default_logprob(t) for t in ["a", " b", " c"]]


def test_models_route_lists_the_script_models(test_server, http) -> None:
    test_server.set_script({"models": ["gen", "ver"]})
    data = http.get(test_server.base_url + "/models").json()
    assert [m["id"] for m in data["data"]] == ["gen", "ver"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model is required"),
        ({"model": "m", "messages": []}, "messages is required"),
        ({"model": "m", "messages": [{"content": "x"}]}, "needs a role"),
        (_chat_body("x", n=0), "n must be an integer"),
        (_chat_body("x", stop=[1]), "stop must be"),
        (_chat_body("x", temperature="hot"), "temperature must be a number"),
        (_chat_body("x", top_logprobs=99), "top_logprobs must be"),
    ],
)
def test_bad_chat_requests_get_400_with_openai_error(test_server, http, body, message) -> None:
    response = _post(http, test_server, CHAT, body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_bad_completions_requests_and_routes(test_server, http) -> None:
    bool_logprobs = {"model": "m", "prompt": "x", "logprobs": True}
    assert _post(http, test_server, COMPLETIONS, bool_logprobs).status_code == 400
    token_ids = {"model": "m", "prompt": [1, 2]}
    assert _post(http, test_server, COMPLETIONS, token_ids).status_code == 400
    assert http.post(test_server.base_url + CHAT, content=b"{not json").status_code == 400
    assert http.get(test_server.base_url + CHAT).status_code == 405
    assert http.post(test_server.root_url + "/chat/completions", json={}).status_code == 404


def test_strict_models_answer_404_for_unknown_models(test_server, http) -> None:
    test_server.set_script({"models": ["gen"], "strict_models": True})
    response = _post(http, test_server, CHAT, _chat_body("x"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert _post(http, test_server, CHAT, {**_chat_body("x"), "model": "gen"}).status_code == 200


def test_api_key_is_required_when_set_and_never_recorded(http) -> None:
    with ScriptedServer(api_key="sk-secret-123") as server:
        wrong = http.post(
            server.base_url + CHAT, json=_chat_body("x"), headers={"Authorization": "Bearer nope"}
        )
        right = http.post(
            server.base_url + CHAT,
            json=_chat_body("x"),
            headers={"Authorization": "Bearer sk-secret-123", "X-Team": "evo"},
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_api_key"
        assert right.status_code == 200
        headers = server.requests[1].headers
        assert headers["authorization"] == "Bearer ***" and headers["x-team"] == "evo"
        assert "sk-secret-123" not in json.dumps([r.to_dict() for r in server.requests])


def test_custom_route_reads_and_writes_dotted_paths(test_server, http) -> None:
    test_server.add_rule(path="/generate", texts=["one two three", "four"])
    url = test_server.root_url + "/generate"
    single = http.post(url, json={"inputs": "p", "parameters": {"max_new_tokens": 2}}).json()
    assert single == {"generated_text": "one two"}
    many = http.post(url, json={"inputs": "p", "parameters": {"n": 2, "stop": [" two"]}}).json()
    assert many == {"generated_text": ["one", "four"]}
    assert http.post(url, json={"parameters": {}}).status_code == 400

    test_server.set_script(
        {
            "rules": [{"texts": ["x", "y"]}],
            "custom_route": {
                "route": "/api/gen",
                "fields": {
                    "prompt": "input.text",
                    "n": "num",
                    "text": "outputs.*.content",
                    "finish_reason": "outputs.*.reason",
                },
            },
        }
    )
    reply = http.post(test_server.root_url + "/api/gen", json={"input": {"text": "p"}, "num": 2})
    assert reply.json() == {
        "outputs": [{"content": "x", "reason": "stop"}, {"content": "y", "reason": "stop"}]
    }


def test_perplexity_of_an_echo_can_be_computed_from_the_documented_logprobs(
    test_server, http
) -> None:
    text = "import os\nprint(os.getcwd())"
    body = {"model": "m", "prompt": text, "echo": True, "logprobs": 0, "max_tokens": 0}
    [choice] = _post(http, test_server, COMPLETIONS, body).json()["choices"]
    assert choice["text"] == text
    values = choice["logprobs"]["token_logprobs"][1:]
    expected = [default_logprob(t) for t in tokenize(text)[1:]]
    assert math.isclose(
        math.exp(-sum(values) / len(values)), math.exp(-sum(expected) / len(expected))
    )
