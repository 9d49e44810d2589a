"""A bare JSON-RPC client over the server's stdio, for bytes no well-behaved client sends.

It frames messages itself (``Content-Length``), so tests can send malformed JSON, wrong
parameter types, unknown methods, or hang up in the middle of a request.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import tempfile
from typing import Any

SERVER_ARGS = ("-m", "server", "serve")


class RawClient:
    def __init__(self, process: asyncio.subprocess.Process, stderr: Any):
        self.process = process
        self.stderr = stderr
        self.notifications: list[dict] = []
        self._responses: dict[Any, dict] = {}
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
            while msg_id not in self._responses:
                await self._read_one()
            return self._responses.pop(msg_id)

        return await asyncio.wait_for(until_found(), timeout)

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
            self._responses[message["id"]] = message
        else:
            self.notifications.append(message)

    async def initialize(self, options: dict | None = None) -> dict:
        response = await self.request(
            "initialize", {"processId": None, "capabilities": {}, "initializationOptions": options}
        )
        self.notify("initialized", {})
        return response

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-4000:]

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self.stderr.close()
