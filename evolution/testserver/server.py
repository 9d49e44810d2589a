"""``ScriptedServer``: a real OpenAI-compatible HTTP server on loopback, answering from a script.

    from evolution.testserver import Fault, ScriptedServer

    with ScriptedServer({"rules": [{"prompt": "Does the code", "text": "Yes",
                                    "logprobs": [{"Yes": -0.05, "No": -3.2}]}]}) as server:
        server.base_url                       # "http://127.0.0.1:PORT/v1"
        server.inject(Fault.http_error(429, retry_after=1), Fault.of("drop"))
        ...                                   # point a client at server.base_url
        server.bodies("/v1/chat/completions") # the JSON bodies the client sent

Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, POST on the script's
custom route (default /generate), and the control API under /_control (see ``control``).
Scripts: see ``script``; faults: see ``faults``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from evolution.testserver.faults import Fault
from evolution.testserver.handler import ScriptedHTTPServer
from evolution.testserver.script import Rule, Script
from evolution.testserver.state import RecordedRequest, ServerState

ScriptLike = Script | Mapping[str, Any] | str | Path | None


class ScriptedServer:
    """A scripted OpenAI-compatible server in a background thread; a context manager.

    ``port=0`` picks a free port. ``latency`` is added to every API request (benchmarks).
    ``api_key``, when given, is required as ``Authorization: Bearer KEY`` (else 401).
    ``seed`` drives the faults given as a fraction of requests.
    """

    def __init__(
        self,
        script: ScriptLike = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        api_key: str | None = None,
        seed: int = 0,
    ) -> None:
        self._state = ServerState(
            Script.coerce(script), latency=latency, api_key=api_key, seed=seed
        )
        self._address = (host, port)
        self._httpd: ScriptedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> ScriptedServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("the test server is already running")
        self._httpd = ScriptedHTTPServer(self._address, self._state)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # how long stop() may wait for the loop
            name=f"testserver:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake sleeping requests (they drop), close connections, join threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._state.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses ---

    @property
    def host(self) -> str:
        return str(self._bound()[0])

    @property
    def port(self) -> int:
        return int(self._bound()[1])

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT`` (no /v1), e.g. for the custom route."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL: ``http://HOST:PORT/v1``."""
        return f"{self.root_url}/v1"

    @property
    def control_url(self) -> str:
        return f"{self.root_url}/_control"

    def _bound(self) -> tuple[Any, ...]:
        if self._httpd is None:
            raise RuntimeError("the test server is not running: call start() or use `with`")
        return tuple(self._httpd.server_address)

    # --- scripting ---

    @property
    def script(self) -> Script:
        return self._state.script

    def set_script(self, script: ScriptLike) -> None:
        """Replace the script (a Script, a mapping in the file format, or a file path)."""
        self._state.set_script(Script.coerce(script))

    def add_rule(self, rule: Rule | None = None, **fields: Any) -> Rule:
        """Append a rule (or build one from ``fields``, e.g. ``prompt="x", text="y"``)."""
        rule = rule if rule is not None else Rule(**fields)
        self._state.add_rule(rule)
        return rule

    def inject(self, *faults: Fault) -> None:
        """Add faults; they fire on the next matching requests (see ``faults``)."""
        self._state.add_faults(list(faults))

    def clear_faults(self) -> None:
        self._state.clear_faults()

    @property
    def faults(self) -> list[dict[str, Any]]:
        """The active faults and how often each has fired."""
        return self._state.fault_snapshot()

    @property
    def latency(self) -> float:
        return self._state.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"latency must be ≥ 0 seconds, got {seconds}")
        self._state.latency = float(seconds)

    # --- inspection ---

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API request so far, in arrival order."""
        return self._state.requests()

    def bodies(self, path: str | None = None) -> list[Any]:
        """The JSON bodies of the requests (to ``path`` only, when given)."""
        return [r.body for r in self._state.requests() if path is None or r.path == path]

    def clear_requests(self) -> None:
        self._state.clear_requests()

    def reset(self) -> None:
        """Back to the start: first script and latency, no faults, no recorded requests."""
        self._state.reset()
