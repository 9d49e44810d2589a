"""``evoselfcode serve``: argument checks, and a session over TCP."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
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


async def start_tcp_server() -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "serve", "--tcp", f"127.0.0.1:{port}",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    return process, port


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for _ in range(300):
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("the server never listened")


async def initialize(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> dict:
    writer.write(frame({"id": 1, "method": "initialize", "params": {"capabilities": {}}}))
    response = await asyncio.wait_for(read_message(reader), 60)
    assert response["id"] == 1
    return response


async def test_a_client_can_initialize_over_tcp():
    process, port = await start_tcp_server()
    try:
        reader, writer = await connect(port)
        response = await initialize(reader, writer)
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


async def test_a_client_that_resets_the_connection_ends_the_session_cleanly():
    process, port = await start_tcp_server()
    try:
        reader, writer = await connect(port)
        await initialize(reader, writer)
        sock = writer.get_extra_info("socket")
        # Linger 0: closing sends a reset, as a killed client's kernel would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.write(b'Content-Length: 500\r\n\r\n{"jsonrpc"')  # cut mid-message
        await writer.drain()
        writer.transport.abort()
        assert await asyncio.wait_for(process.wait(), 60) == 0
        assert process.stderr is not None
        stderr = (await process.stderr.read()).decode()
        assert "Traceback" not in stderr, stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
