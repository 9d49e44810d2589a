"""``evoselfcode serve``: argument checks, and a session over TCP."""

from __future__ import annotations

import asyncio
import json
import socket
import sys

import pytest

from server.cli import build_parser


def test_tcp_needs_host_and_port(capsys):
    parser = build_parser()
    assert parser.parse_args(["serve", "--tcp", "127.0.0.1:2087"]).tcp == ("127.0.0.1", 2087)
    for bad in ("2087", "localhost:", "host:99999", "host:port"):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", "--tcp", bad])
    assert "HOST:PORT" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def read_message(reader: asyncio.StreamReader) -> dict:
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(await reader.readexactly(length))


def frame(message: dict) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def test_a_client_can_initialize_over_tcp():
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "serve", "--tcp", f"127.0.0.1:{port}"
    )
    try:
        for _ in range(300):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the server never listened")
        writer.write(frame({"id": 1, "method": "initialize", "params": {"capabilities": {}}}))
        response = await asyncio.wait_for(read_message(reader), 60)
        assert response["id"] == 1
        assert "inlineCompletionProvider" in response["result"]["capabilities"]
        writer.write(frame({"id": 2, "method": "shutdown"}))
        while (await asyncio.wait_for(read_message(reader), 60)).get("id") != 2:
            pass
        writer.write(frame({"method": "exit"}))
        writer.close()
        await asyncio.wait_for(process.wait(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
