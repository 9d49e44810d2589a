"""The remote backend against a real OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from models import CancelToken, SamplingParams, fim_prompt, load_model
from models.errors import InvalidRequestError, RemoteBackendError, UnsupportedError
from models.remote import RemoteModel, normalize_base_url

COMPLETIONS = "/v1/completions"


def connect(server, ref: str = "test-model", **kwargs) -> RemoteModel:
    model = load_model(ref, backend="remote", remote_base_url=server.base_url, **kwargs)
    assert isinstance(model, RemoteModel)
    return model


def test_fim_prompt_is_sent_as_text_and_streamed_back(test_server):
    test_server.add_rule(path=COMPLETIONS, prompt="def add", text="a + b\n")
    model = connect(test_server)
    pieces: list[str] = []
    params = SamplingParams(max_new_tokens=32, temperature=0.2, top_p=0.9, seed=3)
    generation = model.generate(
        fim_prompt("def add(a, b):\n    return ", "\n"), params, on_text=pieces.append
    )
    assert generation.text == "a + b\n" and "".join(pieces) == generation.text
    assert len(pieces) > 1, "the answer should arrive in streamed pieces"
    assert generation.finish_reason == "eos"
    (body,) = test_server.bodies(COMPLETIONS)
    assert (
        body["prompt"] == "<|fim_prefix|>def add(a, b):\n    return <|fim_suffix|>\n<|fim_middle|>"
    )
    assert body["model"] == "test-model" and body["stream"] is True
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (
        32,
        0.2,
        0.9,
        3,
    )
    assert model.info.backend == "remote" and model.info.token_count == "approximate"


def test_special_token_text_in_user_code_is_defused(test_server):
    test_server.add_rule(path=COMPLETIONS, text="ok")
    model = connect(test_server)
    code = 'FIM = "<|fim_prefix|>"  # \udcff\n'
    model.generate(fim_prompt(code, "<|endoftext|>"), SamplingParams(max_new_tokens=4))
    sent = test_server.bodies(COMPLETIONS)[0]["prompt"]
    assert sent.startswith("<|fim_prefix|>") and sent.endswith(
        "<|fim_suffix|><\u200b|endoftext|><|fim_middle|>"
    )
    assert sent.count("<|fim_prefix|>") == 1 and "<\u200b|fim_prefix|>" in sent
    assert "\ufffd" in sent  # the lone surrogate became a replacement character


def test_stop_strings_hold_even_when_the_server_ignores_them(test_server):
    from evolution.testserver import Fault

    test_server.add_rule(path=COMPLETIONS, text="x = 1\n\n\ndef other():\n    pass\n")
    test_server.inject(Fault.of("ignore_stop"))
    model = connect(test_server)
    pieces: list[str] = []
    generation = model.generate("start", SamplingParams(stop=("\n\n\n",)), on_text=pieces.append)
    assert generation.text == "x = 1" and "".join(pieces) == "x = 1"
    assert generation.finish_reason == "stop"
    assert test_server.bodies(COMPLETIONS)[0]["stop"] == ["\n\n\n"]


def test_stop_check_and_cancel_end_a_slow_stream_promptly(test_server):
    test_server.add_rule(path=COMPLETIONS, text="word " * 200, token_delay=0.05)
    model = connect(test_server)
    checked = model.generate(
        "p", SamplingParams(max_new_tokens=500), stop_check=lambda t: len(t) > 20
    )
    assert checked.finish_reason == "stop" and 20 < len(checked.text) < 60

    token = CancelToken()
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            model.generate("p", SamplingParams(max_new_tokens=500), cancel=token)
        )
    )
    worker.start()
    time.sleep(0.3)
    token.cancel()
    worker.join(3)
    assert not worker.is_alive(), "cancel did not end the request"
    assert results[0].finish_reason == "cancelled" and results[0].text.startswith("word")


def test_time_limit_applies_while_the_server_is_silent(test_server):
    from evolution.testserver import Fault

    test_server.inject(Fault.slow(5.0, path=COMPLETIONS))
    model = connect(test_server)
    started = time.monotonic()
    generation = model.generate("p", SamplingParams(time_limit_s=0.3))
    assert generation.finish_reason == "time" and generation.text == ""
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (("http_error", 500), "HTTP 500"),
        (("malformed", None), "not JSON"),
        (("drop", None), "connection"),
    ],
)
def test_server_failures_are_clear_errors(test_server, fault, message):
    from evolution.testserver import Fault

    kind, status = fault
    model = connect(test_server)
    test_server.inject(Fault.http_error(status) if kind == "http_error" else Fault.of(kind))
    with pytest.raises(RemoteBackendError, match=message):
        model.generate("p", SamplingParams(max_new_tokens=4))


def test_an_unreachable_server_fails_at_load_with_advice():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(
        RemoteBackendError, match=r"cannot reach .* Is the completion server running"
    ):
        load_model("m", backend="remote", remote_base_url=f"http://127.0.0.1:{port}/v1")
    assert time.monotonic() - started < 10


def test_api_key_is_sent_and_never_shown():
    from evolution.testserver import ScriptedServer

    secret = "sk-test-0123456789"
    with ScriptedServer(api_key=secret) as server:
        server.add_rule(path=COMPLETIONS, text="ok")
        with pytest.raises(RemoteBackendError) as err:
            load_model("m", backend="remote", remote_base_url=server.base_url, api_key="wrong")
        assert "API key" in str(err.value) and "wrong" not in str(err.value)
        model = load_model("m", backend="remote", remote_base_url=server.base_url, api_key=secret)
        assert model.generate("p", SamplingParams()).text == "ok"
        assert secret not in repr(model) and secret not in repr(model.info)


def test_local_tokenizer_gives_exact_counts(test_server, smoke_model_dir):
    from transformers import AutoTokenizer

    model = connect(test_server, ref=str(smoke_model_dir), remote_model="served-name")
    assert model.info.token_count == "exact" and model.info.name == "served-name"
    text = "def f(x):\n    return x * 2\n"
    assert model.count_tokens(text) == len(
        AutoTokenizer.from_pretrained(smoke_model_dir)(text).input_ids
    )
    approximate = connect(test_server)
    assert approximate.count_tokens(text) == -(-len(text.encode()) // 3)


def test_chat_batch_and_limits(test_server):
    test_server.add_rule(path=COMPLETIONS, prompt="(?s)user\nhello", text="hi there")
    test_server.add_rule(path=COMPLETIONS, prompt="^one$", text="1")
    test_server.add_rule(path=COMPLETIONS, prompt="^two$", text="2")
    model = connect(test_server, context_window=100)
    reply = model.chat(
        [{"role": "user", "content": "hello"}], SamplingParams(max_new_tokens=8), system_prompt="S"
    )
    assert reply.text == "hi there"
    assert test_server.bodies(COMPLETIONS)[0]["prompt"] == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    )
    batch = model.generate_batch(["one", "two", "one"], SamplingParams(max_new_tokens=4))
    assert [g.text for g in batch] == ["1", "2", "1"]
    hello = [{"role": "user", "content": "hello"}]
    replies = model.chat_batch([hello, hello], SamplingParams(max_new_tokens=8))
    assert [g.text for g in replies] == ["hi there", "hi there"]
    long_prompt = "line of text\n" * 200
    model.generate(long_prompt, SamplingParams(max_new_tokens=16))
    sent = test_server.bodies(COMPLETIONS)[-1]["prompt"]
    assert long_prompt.endswith(sent) and 50 < model.count_tokens(sent) <= 100 - 16
    with pytest.raises(UnsupportedError, match="lora-modules"):
        model.load_adapter("/x", "a")


def test_base_url_forms():
    assert normalize_base_url("http://host:8000") == "http://host:8000/v1"
    assert normalize_base_url("http://host:8000/v1/") == "http://host:8000/v1"
    assert normalize_base_url("https://h/api/v1") == "https://h/api/v1"
    for bad in ("", "host:8000", "ftp://h"):
        with pytest.raises(InvalidRequestError):
            normalize_base_url(bad)
