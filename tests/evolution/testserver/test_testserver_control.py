"""The HTTP control API, as a test in another process (the VS Code e2e test) would use it."""

from __future__ import annotations

import httpx
import pytest

from evolution.testserver import DEFAULT_TEXT


@pytest.fixture
def http():
    with httpx.Client(timeout=5) as client:
        yield client


def _ask(http: httpx.Client, base_url: str, content: str) -> str:
    body = {"model": "m", "messages": [{"role": "user", "content": content}]}
    return http.post(base_url + "/chat/completions", json=body).json()["choices"][0]["message"][
        "content"
    ]


def test_script_rules_faults_latency_requests_and_reset(test_server, http) -> None:
    control, base = test_server.control_url, test_server.base_url
    assert "POST   /_control/reset" in " ".join(http.get(control).json()["routes"])

    assert http.put(control + "/script", json={"rules": [{"prompt": "a", "text": "A"}]}).is_success
    assert http.post(control + "/rules", json={"prompt": "b", "text": "B"}).is_success
    assert http.get(control + "/script").json()["rules"] == [
        {"text": "A", "prompt": "a"},
        {"text": "B", "prompt": "b"},
    ]
    assert (_ask(http, base, "a"), _ask(http, base, "b")) == ("A", "B")

    assert http.post(control + "/faults", json=[{"kind": "http_error", "status": 502}]).is_success
    assert http.get(control + "/faults").json()["faults"][0]["status"] == 502
    assert http.get(base + "/models").status_code == 502
    assert http.post(control + "/faults", json={"faults": [{"kind": "drop"}]}).is_success
    assert http.delete(control + "/faults").is_success
    assert http.get(base + "/models").status_code == 200

    assert http.post(control + "/latency", json={"seconds": 0.01}).is_success
    assert http.get(control + "/latency").json() == {"seconds": 0.01}

    recorded = http.get(control + "/requests").json()["requests"]
    assert [r["path"] for r in recorded] == ["/v1/chat/completions"] * 2 + ["/v1/models"] * 2
    assert recorded[0]["body"]["messages"][0]["content"] == "a"

    assert http.post(control + "/reset").is_success
    assert http.get(control + "/requests").json() == {"requests": []}
    assert http.get(control + "/latency").json() == {"seconds": 0.0}
    assert _ask(http, base, "a") == DEFAULT_TEXT


@pytest.mark.parametrize(
    ("method", "route", "body", "message"),
    [
        ("PUT", "/script", {"rules": [{"txt": "x"}]}, "unknown key 'txt'"),
        ("POST", "/faults", {"kind": "nope"}, "unknown fault kind"),
        ("POST", "/latency", {"seconds": -1}, "latency needs"),
        ("POST", "/bogus", {}, "no control route POST /_control/bogus"),
    ],
)
def test_bad_control_requests_get_a_400_or_404_that_says_why(
    test_server, http, method, route, body, message
) -> None:
    response = http.request(method, test_server.control_url + route, json=body)
    assert response.status_code in (400, 404)
    assert message in response.json()["error"]["message"]
    # nothing was changed by the bad request
    assert http.get(test_server.control_url + "/faults").json() == {"faults": []}


def test_control_requests_are_not_recorded_and_skip_latency(test_server, http) -> None:
    test_server.latency = 5.0
    http.get(test_server.control_url + "/requests")
    assert test_server.requests == []
