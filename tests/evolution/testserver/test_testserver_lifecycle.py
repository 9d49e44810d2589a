"""Concurrency, clean shutdown and the `evoselfcode testserver` command."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx

from evolution.testserver import Fault, ScriptedServer


async def test_64_slow_requests_are_all_in_flight_at_once() -> None:
    with ScriptedServer(latency=1.0) as server:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def one() -> float:
                response = await client.get(server.base_url + "/models")
                assert response.status_code == 200
                return time.monotonic()

            finished = await asyncio.gather(*(one() for _ in range(64)))
        arrivals = [r.received_at for r in server.requests]
    assert len(arrivals) == 64
    # every request reached the server before the first answer came back
    assert max(arrivals) < min(finished)


def test_stop_wakes_sleeping_requests_and_joins_every_thread() -> None:
    before = set(threading.enumerate())
    server = ScriptedServer(latency=600).start()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(server.base_url + "/models", timeout=700)
        except httpx.HTTPError as exc:
            errors.append(exc)

    callers = [threading.Thread(target=call) for _ in range(8)]
    for caller in callers:
        caller.start()
    while len(server.requests) < 8:
        time.sleep(0.01)
    server.stop()  # would block for 600 s if sleeping requests were not woken
    for caller in callers:
        caller.join()
    assert len(errors) == 8 and all(isinstance(e, httpx.RemoteProtocolError) for e in errors)
    assert [t for t in threading.enumerate() if t not in before] == []  # server threads joined


def test_restart_is_refused_while_running_and_stop_is_idempotent() -> None:
    server = ScriptedServer().start()
    try:
        try:
            server.start()
            raise AssertionError("a second start must fail")
        except RuntimeError as exc:
            assert "already running" in str(exc)
    finally:
        server.stop()
        server.stop()


def test_cli_serves_a_script_file_and_stops_on_sigterm(tmp_path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("rules:\n  - prompt: ping\n    text: pong\n", encoding="utf-8")
    env = {**os.environ, "TS_KEY": "sk-cli-key"}
    command = [sys.executable, "-m", "server.cli", "testserver", "--port", "0"]
    command += ["--script", str(script), "--api-key-env", "TS_KEY", "--quiet"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+/v1)", line)
        assert match, line
        base_url = match.group(1)
        body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
        headers = {"Authorization": "Bearer sk-cli-key"}
        reply = httpx.post(base_url + "/chat/completions", json=body, headers=headers)
        assert reply.json()["choices"][0]["message"]["content"] == "pong"
        control = base_url.removesuffix("/v1") + "/_control"
        httpx.post(control + "/faults", json={"kind": "http_error", "status": 503})
        assert httpx.get(base_url + "/models", headers=headers).status_code == 503
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "sk-cli-key" not in stderr


def test_cli_rejects_a_bad_script_with_a_clear_message(tmp_path) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text("rules:\n  - prompt: ping\n", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "server.cli",
        "testserver",
        "--port",
        "0",
        "--script",
        str(script),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "rules[0]: give exactly one of text" in proc.stderr


def test_fault_added_while_requests_wait_applies_to_later_ones(test_server) -> None:
    test_server.inject(Fault.http_error(500, count=1))
    with httpx.Client() as http:
        assert http.get(test_server.base_url + "/models").status_code == 500
        assert http.get(test_server.base_url + "/models").status_code == 200
