"""HTTP/1.1 plumbing: read a request, hand it to the API or control routes, write the reply.

One thread per connection (``ThreadingHTTPServer``), keep-alive, chunked server-sent events
for streams. The server tracks its open connections so that stopping it can close idle
keep-alive sockets and wake every thread at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from evolution.testserver.api import handle_api
from evolution.testserver.control import PREFIX as CONTROL_PREFIX
from evolution.testserver.control import handle_control
from evolution.testserver.replies import DropReply, JsonReply, RawReply, Reply, StreamReply
from evolution.testserver.state import RecordedRequest, ServerState, redact_headers

logger = logging.getLogger("evolution.testserver")

MAX_BODY_BYTES = 64 * 1024 * 1024


class ScriptedHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its state and its open connections."""

    daemon_threads = True
    block_on_close = True  # server_close() joins the request threads: a clean stop
    request_queue_size = 512  # many clients connecting at once must not be refused

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (fault tests drop and time out on purpose) is no error."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            logger.debug("client %s went away mid-request", client_address)
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every thread blocked on a socket: idle keep-alive reads end at once."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: ScriptedHTTPServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the connection was dropped, on purpose or not
            super().finish()

    # --- request ---

    def _handle(self, method: str) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        status: int | str = "dropped"
        try:
            status = self._send(self._answer(method, url.path, url.query, started))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client went away; nothing left to answer
        except Exception:  # a bug of the test server: answer 500 and show it
            logger.exception("test server failed on %s %s", method, url.path)
            self.close_connection = True
            status = 500
            with contextlib.suppress(OSError):
                self._write_json(JsonReply(500, {"error": {"message": "test server bug"}}))
        logger.info(
            "%s %s %s %.0f ms", method, url.path, status, (time.monotonic() - started) * 1000
        )

    def _answer(self, method: str, path: str, query: str, started: float) -> Reply:
        state = self.server.state
        raw = self._read_body()
        if raw is None:
            self.close_connection = True  # the unread rest of the body would poison the stream
            return JsonReply(413, {"error": {"message": f"body over {MAX_BODY_BYTES} bytes"}})
        body = self._parse(raw)
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return handle_control(state, method, path, body)
        recorded = (
            raw.decode("utf-8", "replace") if isinstance(body, json.JSONDecodeError) else body
        )
        headers = redact_headers(dict(self.headers.items()))
        state.record(RecordedRequest(method, path, query, headers, recorded, started))
        return handle_api(state, method, path, body, self.headers.get("Authorization"))

    def _read_body(self) -> bytes | None:
        """The request body; None when it is larger than ``MAX_BODY_BYTES``."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()  # the empty line after the last chunk
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                if sum(map(len, parts)) > MAX_BODY_BYTES:
                    return None
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length > 0 else b""

    @staticmethod
    def _parse(raw: bytes) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                return exc
            return json.JSONDecodeError(str(exc), raw.decode("utf-8", "replace"), 0)

    # --- reply ---

    def _send(self, reply: Reply) -> int | str:
        if isinstance(reply, DropReply):
            self._drop()
            return "dropped"
        if isinstance(reply, StreamReply):
            return self._stream(reply)
        if isinstance(reply, RawReply):
            self._write(reply.status, reply.body, reply.content_type, {})
            return reply.status
        self._write_json(reply)
        return reply.status

    def _write_json(self, reply: JsonReply) -> None:
        body = json.dumps(reply.body).encode("utf-8")
        self._write(reply.status, body, "application/json", reply.headers)

    def _write(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, reply: StreamReply) -> int | str:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, event in enumerate(reply.events):
            if index and not self.server.state.pause(reply.delay):
                self._drop()
                return "dropped mid-stream"
            self._chunk(f"data: {json.dumps(event)}\n\n".encode())
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        return 200

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
