"""The OpenAI-compatible routes and the custom route: a parsed request in, a reply out.

Every API request first pays the server's latency plus any ``slow`` fault, then a terminal
fault (if one fires) replaces the answer; then the API key is checked (when the server has
one) and the route answers from the script. Request fields are validated the way OpenAI's API
does it, so a client that sends a wrong type gets a 400 here too.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from evolution.testserver.customroute import custom_reply, read_custom_request
from evolution.testserver.faults import DEFAULT_MALFORMED_BODY, Effects, Fault
from evolution.testserver.replies import (
    DropReply,
    JsonReply,
    RawReply,
    Reply,
    RequestRejected,
    StreamReply,
)
from evolution.testserver.responses import (
    LEGACY_COMPLETIONS_MAX_TOKENS,
    chat_chunks,
    chat_completion,
    completion_chunks,
    error_body,
    generate_choices,
    models_list,
    text_completion,
)
from evolution.testserver.state import ServerState

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"
MODELS_PATH = "/v1/models"
MAX_N = 128
MAX_TOP_LOGPROBS = 20

_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def handle_api(
    state: ServerState, method: str, path: str, body: Any, authorization: str | None
) -> Reply:
    """Answer one API request. ``body`` is the parsed JSON (``json.JSONDecodeError`` if not)."""
    effects = state.draw_faults(path)
    if not state.pause(state.latency + effects.delay):
        return DropReply()
    if effects.terminal is not None:
        return _fault_reply(effects.terminal)
    try:
        _check_key(state, authorization)
        handler = _route(state, method, path)
        if isinstance(body, json.JSONDecodeError):
            raise RequestRejected(400, f"could not parse the JSON body: {body}")
        if method == "POST" and not isinstance(body, dict):
            raise RequestRejected(400, "the request body must be a JSON object")
        return handler(state, body, effects)
    except RequestRejected as exc:
        return exc.reply


def _fault_reply(fault: Fault) -> Reply:
    if fault.kind == "drop":
        return DropReply()
    if fault.kind == "malformed":
        return RawReply(200, (fault.body or DEFAULT_MALFORMED_BODY).encode("utf-8"))
    headers = {}
    if fault.retry_after is not None:
        value = fault.retry_after
        headers["Retry-After"] = (
            str(int(value))
            if isinstance(value, (int, float)) and value == int(value)
            else str(value)
        )
    if fault.body is not None:
        return RawReply(fault.status, fault.body.encode("utf-8"))
    message = f"injected fault: HTTP {fault.status}"
    error_type = _ERROR_TYPES.get(
        fault.status, "server_error" if fault.status >= 500 else "invalid_request_error"
    )
    return JsonReply(fault.status, error_body(message, error_type), headers)


def _check_key(state: ServerState, authorization: str | None) -> None:
    if state.api_key is None:
        return
    expected = f"Bearer {state.api_key}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise RequestRejected(
            401, "Incorrect API key provided.", "authentication_error", "invalid_api_key"
        )


Route = Callable[[ServerState, Any, Effects], Reply]


def _route(state: ServerState, method: str, path: str) -> Route:
    routes: dict[str, tuple[str, Route]] = {
        CHAT_PATH: ("POST", _chat),
        COMPLETIONS_PATH: ("POST", _completions),
        MODELS_PATH: ("GET", _models),
        state.script.custom_route.route: ("POST", _custom),
    }
    if path not in routes:
        raise RequestRejected(404, f"no route {path}; the test server serves {', '.join(routes)}")
    allowed, handler = routes[path]
    if method != allowed:
        raise RequestRejected(405, f"{path} takes {allowed}, not {method}")
    return handler


# --- request fields ------------------------------------------------------------------------


def _int(body: dict, name: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestRejected(400, f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return value


def _bool(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestRejected(400, f"{name} must be true or false, got {value!r}")
    return value


def _stops(body: dict) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise RequestRejected(400, f"stop must be a string or a list of strings, got {stop!r}")
    return stops


def _model(state: ServerState, body: dict) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestRejected(400, "model is required (a string)")
    if state.script.strict_models and model not in state.script.models:
        raise RequestRejected(
            404, f"The model `{model}` does not exist.", "invalid_request_error", "model_not_found"
        )
    return model


def _sampling_numbers(body: dict) -> None:
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise RequestRejected(400, f"{name} must be a number, got {value!r}")


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


# --- routes --------------------------------------------------------------------------------


def _models(state: ServerState, body: Any, effects: Effects) -> Reply:
    return JsonReply(200, models_list(state.script.models))


def _chat(state: ServerState, body: dict, effects: Effects) -> Reply:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestRejected(400, "messages is required (a non-empty list)")
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestRejected(400, f"each message needs a role and content, got {message!r}")
    model = _model(state, body)
    _sampling_numbers(body)
    users = [_content_text(m.get("content")) for m in messages if m["role"] == "user"]
    prompt = users[-1] if users else ""
    conversation = "".join(_content_text(m.get("content")) for m in messages)
    rule = state.choose_rule(CHAT_PATH, model, prompt)
    n = 1 if effects.ignore_n else _int(body, "n", 1, 1, MAX_N) or 1
    max_tokens = _int(body, "max_completion_tokens", None, 0, 10**9)
    if max_tokens is None:
        max_tokens = _int(body, "max_tokens", None, 0, 10**9)
    choices = generate_choices(
        rule, n, max_tokens=max_tokens, stop=_stops(body), ignore_stop=effects.ignore_stop
    )
    logprobs = _bool(body, "logprobs") and rule.logprobs_supported and not effects.no_logprobs
    top = _int(body, "top_logprobs", 0, 0, MAX_TOP_LOGPROBS) or 0
    response_id = state.next_id("chatcmpl")
    if _bool(body, "stream"):
        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        events = chat_chunks(
            response_id,
            model,
            choices,
            logprobs=logprobs,
            top_logprobs=top,
            include_usage=include_usage,
            prompt_text=conversation,
        )
        return StreamReply(events, delay=rule.token_delay)
    return JsonReply(
        200,
        chat_completion(
            response_id,
            model,
            choices,
            logprobs=logprobs,
            top_logprobs=top,
            prompt_text=conversation,
        ),
    )


def _completions(state: ServerState, body: dict, effects: Effects) -> Reply:
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise RequestRejected(
            400, "prompt is required: a string or a list of strings (token ids are not supported)"
        )
    model = _model(state, body)
    _sampling_numbers(body)
    if isinstance(body.get("logprobs"), bool):
        raise RequestRejected(
            400, "logprobs must be an integer (how many top candidates) on /v1/completions"
        )
    k = _int(body, "logprobs", None, 0, MAX_TOP_LOGPROBS)
    n = 1 if effects.ignore_n else _int(body, "n", 1, 1, MAX_N) or 1
    max_tokens = _int(body, "max_tokens", LEGACY_COMPLETIONS_MAX_TOKENS, 0, 10**9)
    stops = _stops(body)
    echo = _bool(body, "echo") and not effects.ignore_echo
    batches = []
    token_delay = 0.0
    for text in prompts:
        rule = state.choose_rule(COMPLETIONS_PATH, model, text)
        if not rule.logprobs_supported:
            k = None
        token_delay = max(token_delay, rule.token_delay)
        choices = generate_choices(
            rule, n, max_tokens=max_tokens, stop=stops, ignore_stop=effects.ignore_stop
        )
        batches.append((text, choices))
    if effects.no_logprobs:
        k = None
    response_id = state.next_id("cmpl")
    if _bool(body, "stream"):
        events = completion_chunks(response_id, model, batches, logprobs=k, echo=echo)
        return StreamReply(events, delay=token_delay)
    return JsonReply(200, text_completion(response_id, model, batches, logprobs=k, echo=echo))


def _custom(state: ServerState, body: dict, effects: Effects) -> Reply:
    route = state.script.custom_route
    request = read_custom_request(route, body)
    rule = state.choose_rule(route.route, request.model, request.prompt)
    n = 1 if effects.ignore_n else request.n
    choices = generate_choices(
        rule, n, max_tokens=request.max_tokens, stop=request.stop, ignore_stop=effects.ignore_stop
    )
    return JsonReply(200, custom_reply(route, choices, many=request.n_given and n > 1))
