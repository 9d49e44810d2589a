"""Fault injection over real HTTP: each kind, counts, fractions, path filters, behaviours."""

from __future__ import annotations

import httpx
import pytest

from evolution.testserver import Fault, FaultSpecError, ScriptedServer


@pytest.fixture
def http():
    with httpx.Client(timeout=5) as client:
        yield client


def _models(http: httpx.Client, server: ScriptedServer) -> httpx.Response:
    return http.get(server.base_url + "/models")


def test_http_errors_fire_on_the_next_count_requests_in_order(test_server, http) -> None:
    test_server.inject(Fault.http_error(503, count=2), Fault.http_error(401))
    statuses = [_models(http, test_server).status_code for _ in range(4)]
    assert statuses == [503, 503, 401, 200]
    assert test_server.faults == []


def test_429_carries_retry_after_in_seconds_or_as_an_http_date(test_server, http) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    test_server.inject(
        Fault.http_error(429, retry_after=2), Fault.http_error(429, retry_after=date)
    )
    first, second = _models(http, test_server), _models(http, test_server)
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert first.json()["error"]["type"] == "rate_limit_error"
    assert second.headers["retry-after"] == date


def test_malformed_and_dropped_answers(test_server, http) -> None:
    test_server.inject(Fault.of("malformed"), Fault.of("drop"), Fault.http_error(500, body="oops"))
    malformed = _models(http, test_server)
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    with pytest.raises(httpx.RemoteProtocolError):
        _models(http, test_server)
    raw = _models(http, test_server)
    assert (raw.status_code, raw.text) == (500, "oops")
    assert _models(http, test_server).status_code == 200


def test_slow_fault_goes_past_the_client_timeout(test_server) -> None:
    test_server.inject(Fault.slow(2.0))
    with httpx.Client(timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get(test_server.base_url + "/models")
    with httpx.Client(timeout=0.2) as impatient:
        assert impatient.get(test_server.base_url + "/models").status_code == 200


def test_path_filter_limits_a_fault_to_one_route(test_server, http) -> None:
    test_server.inject(Fault.http_error(500, path="/v1/completions"))
    assert _models(http, test_server).status_code == 200
    body = {"model": "m", "prompt": "p"}
    assert http.post(test_server.base_url + "/completions", json=body).status_code == 500


def test_fractional_faults_are_seeded_and_near_the_fraction() -> None:
    def pattern(seed: int) -> list[int]:
        with ScriptedServer(seed=seed) as server, httpx.Client() as http:
            server.inject(Fault.http_error(500, fraction=0.3))
            return [http.get(server.base_url + "/models").status_code for _ in range(100)]

    first = pattern(7)
    assert first == pattern(7)
    assert first != pattern(8)
    assert 15 <= first.count(500) <= 45


def test_fraction_with_count_caps_how_often_it_fires(test_server, http) -> None:
    test_server.inject(Fault.http_error(500, fraction=0.5, count=3))
    statuses = [_models(http, test_server).status_code for _ in range(60)]
    assert statuses.count(500) == 3


def test_behaviour_faults_ignore_stop_n_and_logprobs(test_server, http) -> None:
    test_server.add_rule(text="name(x)")
    test_server.inject(Fault.of("ignore_stop"), Fault.of("ignore_n"), Fault.of("no_logprobs"))
    body = {"model": "m", "prompt": "def ", "n": 4, "stop": ["("], "logprobs": 1}
    url = test_server.base_url + "/completions"
    bad = http.post(url, json=body).json()["choices"]
    assert [(c["text"], c["logprobs"]) for c in bad] == [("name(x)", None)]
    good = http.post(url, json=body).json()["choices"]
    assert len(good) == 4 and good[0]["text"] == "name" and good[0]["logprobs"] is not None


def test_rule_without_logprobs_support_answers_null(test_server, http) -> None:
    test_server.add_rule(text="Yes", logprobs_supported=False)
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "logprobs": True}
    choice = http.post(test_server.base_url + "/chat/completions", json=body).json()["choices"][0]
    assert choice["message"]["content"] == "Yes" and choice["logprobs"] is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "explode"}, "unknown fault kind 'explode'"),
        ({"kind": "http_error", "status": 999}, "status must be an HTTP status"),
        ({"kind": "drop", "count": 0}, "count must be a positive integer"),
        ({"kind": "drop", "fraction": 2}, "fraction must be between 0 and 1"),
        ({"kind": "slow"}, "needs delay > 0"),
        ({"kind": "drop", "times": 2}, "unknown fault field 'times'"),
        ({"status": 500}, "needs a kind"),
    ],
)
def test_bad_fault_specs_name_the_field(spec: dict, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        Fault.from_dict(spec)
