"""One client over TCP (``evoselfcode serve --tcp``): pygls's ``start_tcp``, made robust.

pygls ends the session when the client closes the connection, but a client that *resets* it
(killed, or closed with unread data) raises out of pygls's handler: asyncio logs a traceback
and the server keeps listening with a dead writer. Here both end the session the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from pygls.io_ import run_async
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)


def serve_tcp(server: LanguageServer, host: str, port: int) -> None:
    """Listen on ``host:port`` and serve the first client until it leaves, then return."""
    stop_event = server._stop_event = threading.Event()

    async def one_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.protocol.set_writer(writer)
        try:
            await run_async(
                stop_event=stop_event,
                reader=reader,
                protocol=server.protocol,
                logger=log,
                error_handler=server.report_server_error,
            )
        except ConnectionError as exc:
            log.warning("the client's connection broke (%s): shutting down", exc)
        server.shutdown()

    async def listen() -> None:
        listener = await asyncio.start_server(one_client, host, port)
        server._server = listener
        log.info("listening for one client on %s:%s", host, port)
        async with listener:
            with contextlib.suppress(asyncio.CancelledError):
                await listener.serve_forever()

    asyncio.run(listen())
