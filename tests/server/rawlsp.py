"""A bare JSON-RPC client over the server's stdio, for bytes no well-behaved client sends.

It frames messages itself (``Content-Length``), so tests can send malformed JSON, wrong
parameter types, unknown methods, or hang up in the middle of a request. Every response is
kept in ``received`` too, in arrival order, so tests can count the answers to an id (a
JSON-RPC error about an unreadable message has the id null).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import tempfile
from collections.abc import Callable
from typing import Any

SERVER_ARGS = ("-m", "server", "serve")


class RawClient:
    def __init__(self, process: asyncio.subprocess.Process, stderr: Any):
        self.process = process
        self.stderr = stderr
        self.notifications: list[dict] = []
        self.received: list[dict] = []  # every response, in arrival order
        self._responses: dict[str, dict] = {}  # by the id as JSON: 1 and "1" differ
        self._ids = itertools.count(1)

    @classmethod
    async def start(cls) -> RawClient:
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *SERVER_ARGS,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        return cls(process, stderr)

    def send_bytes(self, body: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, message: dict) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"method": method, "params": params})

    def request_id(self) -> int:
        return next(self._ids)

    async def request(self, method: str, params: Any = None, timeout: float = 60) -> dict:
        """Send a request and wait for its response (the whole message, result or error)."""
        msg_id = self.request_id()
        self.send({"id": msg_id, "method": method, "params": params})
        return await self.response(msg_id, timeout)

    async def response(self, msg_id: Any, timeout: float = 60) -> dict:
        async def until_found() -> dict:
            while json.dumps(msg_id) not in self._responses:
                await self._read_one()
            return self._responses.pop(json.dumps(msg_id))

        return await asyncio.wait_for(until_found(), timeout)

    async def read_until(self, done: Callable[[], bool], timeout: float = 60) -> None:
        """Read messages until ``done()`` holds."""

        async def until_done() -> None:
            while not done():
                await self._read_one()

        await asyncio.wait_for(until_done(), timeout)

    def answers(self, msg_id: Any) -> list[dict]:
        """Every response received so far for ``msg_id`` (None: the id null)."""
        return [m for m in self.received if m["id"] == msg_id and type(m["id"]) is type(msg_id)]

    async def _read_one(self) -> None:
        assert self.process.stdout is not None
        length = 0
        while True:
            line = await self.process.stdout.readline()
            if not line:
                raise ConnectionError(f"the server closed stdout\n{self.stderr_text()}")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        message = json.loads(await self.process.stdout.readexactly(length))
        if "id" in message and "method" in message:  # a request from the server
            self.send({"id": message["id"], "result": None})
        elif "id" in message:
            self.received.append(message)
            self._responses[json.dumps(message["id"])] = message  # ids may be anything
        else:
            self.notifications.append(message)

    async def initialize(self, options: dict | None = None) -> dict:
        response = await self.request(
            "initialize", {"processId": None, "capabilities": {}, "initializationOptions": options}
        )
        self.notify("initialized", {})
        return response

    def stderr_text(self, tail: int | None = 4000) -> str:
        """What the server wrote to stderr: the last ``tail`` characters (None: all)."""
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace")
        return text if tail is None else text[-tail:]

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self.stderr.close()
