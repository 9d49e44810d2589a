"""``EvoServer``: the language server and the state its features share.

Handlers live in ``server/features/`` (one feature per module) and stay thin; this class
holds settings, the model thread, the completion engine, the suggestion outcomes (tracker
and log), the instruction service, the self-evolve service, the fine-tuning and evaluation
runs and the status board, and owns the two jobs that cross threads: posting to the event
loop, and sending ``evoselfcode/status`` at most every ``STATUS_INTERVAL_S`` (state changes
at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.lsp.server import LanguageServer

from evolution.store.outcomes import OutcomeLog, log_path
from server.cache import CompletionCache
from server.completion import CompletionEngine
from server.converter import converter_factory
from server.documents import LineDocument
from server.envelope import UNPARSABLE
from server.instructions.service import InstructionService
from server.logs import ClientLogHandler, configure_logging
from server.model_host import ModelHost
from server.outcomes.auto_train import AutoTrainer
from server.outcomes.guard import AcceptanceGuard
from server.outcomes.tracker import OutcomeTracker, checks_from_environment
from server.protocol import EvoProtocol
from server.scheduler import ModelWorker
from server.selfevolve.service import EvolveService
from server.settings import CLIENT_UI, SECTION, Settings, client_options, parse_settings
from server.status import StatusBoard

if TYPE_CHECKING:
    from server.outcomes.tracker import Suggestion
    from server.runs.evaluation import EvaluationRun
    from server.runs.finetune import FinetuneRun

log = logging.getLogger(__name__)

VERSION = "0.1.0"
STATUS_METHOD = "evoselfcode/status"
STATUS_INTERVAL_S = 0.5


class EvoServer(LanguageServer):
    protocol: EvoProtocol

    def __init__(self) -> None:
        super().__init__(
            "evoselfcode",
            VERSION,
            protocol_cls=EvoProtocol,
            converter_factory=converter_factory,
            max_workers=4,
        )
        self.settings = Settings()
        self.status = StatusBoard()
        self.protocol.on_rejected = self._count_rejected
        self.cache = CompletionCache()
        self.worker = ModelWorker("evoselfcode-model")
        self.chat_worker = ModelWorker("evoselfcode-chat")
        self.host = ModelHost(
            self.worker,
            self.status,
            on_change=lambda: self.post(self._model_changed),
            on_failure=lambda message: self.post(self.show_error, message),
            workspace=self.workspace_folder_path,
        )
        self.engine = CompletionEngine(
            workspace=lambda: self.workspace,
            settings=lambda: self.settings,
            host=self.host,
            worker=self.worker,
            cache=self.cache,
            status=self.status,
            on_stats=lambda: self.publish_status(False),
        )
        self.acceptance = AcceptanceGuard(self)
        self.auto_train = AutoTrainer(self)
        self.outcomes = OutcomeTracker(
            schedule=self._call_later,
            read_span=self._read_span,
            write=self._write_outcome,
            on_stats=self.outcomes_changed,
            on_settled=self._outcome_settled,
            checks=checks_from_environment(),
        )
        self._outcome_logs: dict[Path, OutcomeLog] = {}
        self.status.set_outcomes(self.outcomes.summary())
        self.instructions = InstructionService(lambda: self.workspace)
        self.evolve = EvolveService(on_sandbox=self._show_sandbox)
        self._sandbox_probed = False
        self.finetune_run: FinetuneRun | None = None
        self.evaluation_run: EvaluationRun | None = None
        self.client_ui = False  # the client shows self-evolve results itself (clientUi)
        self.session_started = False  # after `initialized`: settings changes may (re)load models
        self._loop: asyncio.AbstractEventLoop | None = None
        self._status_sent_at = 0.0
        self._status_timer: asyncio.TimerHandle | None = None
        self._log_handler = ClientLogHandler(lambda params: self.post(self._send_log, params))
        configure_logging(self.settings.log_level, self._log_handler)  # before any message
        self._background: set[asyncio.Future[Any]] = set()

    # -- threads ---------------------------------------------------------------------------

    def attach_loop(self) -> None:
        """Remember the event loop (call from a handler): other threads post to it."""
        self._loop = asyncio.get_running_loop()

    def spawn(self, work: Awaitable[Any]) -> asyncio.Future[Any]:
        """Run ``work`` in the background on the event loop (a reference is kept till done)."""
        future = asyncio.ensure_future(work)
        self._background.add(future)
        future.add_done_callback(self._background.discard)
        return future

    def post(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the event loop, from any thread; dropped when closed."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed since the check
            loop.call_soon_threadsafe(callback, *args)

    def _call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | None:
        return None if self._loop is None else self._loop.call_later(delay, callback)

    # -- suggestion outcomes ---------------------------------------------------------------

    def outcome_log(self) -> OutcomeLog:
        """The outcome log of the data folder in the settings."""
        from models.paths import resolve_data_dir

        path = log_path(resolve_data_dir(self.settings.data_dir))
        if path not in self._outcome_logs:
            self._outcome_logs[path] = OutcomeLog(path)
        return self._outcome_logs[path]

    def _read_span(self, uri: str, start: types.Position, end: types.Position) -> str | None:
        from server.features.outcomes import span_text

        document = self.workspace.text_documents.get(uri)
        return span_text(document, start, end) if isinstance(document, LineDocument) else None

    def _write_outcome(self, record: dict[str, Any], *, now: bool = False) -> None:
        """Append a settled record (off the event loop), unless the setting turned it off."""
        if not self.settings.completion.record_outcomes:
            return
        outcome_log = self.outcome_log()
        if now:
            _append_outcome(outcome_log, record)
        else:
            self.spawn(asyncio.to_thread(_append_outcome, outcome_log, record))

    def _outcome_settled(self, suggestion: Suggestion) -> None:
        self.acceptance.settled(suggestion)
        self.auto_train.settled(suggestion)

    def outcomes_changed(self) -> None:
        summary = self.outcomes.summary()
        if (watch := self.acceptance.summary()) is not None:
            summary["acceptanceWatch"] = watch
        if (auto := self.auto_train.summary()) is not None:
            summary["autoTrain"] = auto
        self.status.set_outcomes(summary)
        self.publish_status()

    # -- the model -------------------------------------------------------------------------

    def _model_changed(self) -> None:
        """Loaded, failed, or another adapter serves: tell the client, watch the adapter."""
        self.publish_status(True)
        self.acceptance.serving_changed(self.host.serving)

    def workspace_folder_uri(self) -> str | None:
        """The first workspace folder's uri (None before ``initialize`` or without one)."""
        from server.context import first_folder_uri

        try:
            workspace = self.workspace
        except RuntimeError:
            return None
        return first_folder_uri(workspace)

    def workspace_folder_path(self) -> str | None:
        """The first workspace folder as a local path: its completion adapter serves."""
        from pygls.uris import to_fs_path

        uri = self.workspace_folder_uri()
        return to_fs_path(uri) if uri else None

    # -- messages to the client ----------------------------------------------------------

    def _send_log(self, params: types.LogMessageParams) -> None:
        with contextlib.suppress(Exception):  # the client is gone; nothing to tell
            self.window_log_message(params)

    def show_error(self, message: str) -> None:
        """A pop-up: only for what the user must fix (a model that does not load)."""
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Error, message=message)
        )

    def publish_status(self, urgent: bool = False) -> None:
        """Send ``evoselfcode/status`` now if urgent or due, else once the interval ends."""
        if self._loop is None:
            return
        wait = self._status_sent_at + STATUS_INTERVAL_S - time.monotonic()
        if urgent or wait <= 0:
            self._send_status()
        elif self._status_timer is None:
            self._status_timer = self._loop.call_later(wait, self._send_status)

    def _send_status(self) -> None:
        if not self._sandbox_probed:
            # With the first status the sandbox starts in the background, so that the status
            # soon shows the isolation untrusted code gets here (and self-evolve finds it ready).
            self._sandbox_probed = True
            self.post(lambda: self.spawn(self.evolve.probe_sandbox()))
        if self._status_timer is not None:
            self._status_timer.cancel()
            self._status_timer = None
        self._status_sent_at = time.monotonic()
        try:
            self.protocol.notify(STATUS_METHOD, self.status.snapshot())
        except Exception:
            log.debug("could not send the status", exc_info=True)

    def _show_sandbox(self, sandbox: dict[str, Any]) -> None:
        self.status.set_sandbox(sandbox)
        self.post(self.publish_status, True)

    def _count_rejected(self) -> None:
        self.status.record_rejected()
        self.publish_status()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls' default pops up every internal error; a log line is enough. A JSON-RPC
        error raised on purpose was answered to the client: it is no server fault."""
        if source is JsonRpcException and isinstance(error, UNPARSABLE):
            # pygls's read loop (pygls.io_) reports what json.loads raised this way: the body
            # is no JSON. EvoProtocol.handle_message raises nothing, so nothing else comes so.
            self.protocol.reject_unparsable(error)
            return
        answered = isinstance(error, JsonRpcException) and not isinstance(
            error, JsonRpcInternalError
        )
        level = logging.INFO if answered else logging.ERROR
        log.log(level, "%s: %s", getattr(source, "__name__", source), error)

    # -- settings --------------------------------------------------------------------------

    def apply_settings(self, raw: Any) -> None:
        """Merge the client's settings; bad values are reported and the old ones kept."""
        raw, options = client_options(raw)
        if CLIENT_UI in options:
            self.client_ui = options[CLIENT_UI] is True
        parsed = parse_settings(raw, self.settings)
        for problem in parsed.problems:
            log.warning("setting ignored: %s", problem)
        self.settings = parsed.settings
        configure_logging(self.settings.log_level, self._log_handler)
        if parsed.changed:
            log.info("settings changed: %s", ", ".join(f"{SECTION}.{k}" for k in parsed.changed))
            self.cache.clear()
        if self.session_started:
            self.host.apply(self.settings)
            self.spawn(self.auto_train.start())
            if "dataDir" in parsed.changed:
                self.show_last_evaluation()

    def show_last_evaluation(self) -> None:
        """Read the newest stored evaluation of the data folder into the status."""
        from server.runs.evaluation import show_last_evaluation

        self.spawn(show_last_evaluation(self))

    async def pull_settings(self) -> None:
        """Ask the client for the ``evoselfcode`` section (``workspace/configuration``)."""
        capabilities = self.client_capabilities.workspace
        if capabilities is None or not capabilities.configuration:
            return
        params = types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        try:
            values = await asyncio.wait_for(self.workspace_configuration_async(params), 10)
        except Exception as exc:  # a client that cannot answer keeps the settings we have
            log.warning("could not read the settings from the client: %s", exc)
            return
        if values:
            self.apply_settings(values[0])

    def stop(self) -> None:
        """Cancel model work and stop the runs; the threads are daemons, so exit never waits
        for them. A fine-tuning run gets SIGTERM: it writes a checkpoint and exits."""
        self.worker.stop()
        self.chat_worker.stop()
        self.outcomes.flush(lambda record: self._write_outcome(record, now=True))
        for run in (self.finetune_run, self.evaluation_run):
            if run is not None and run.child.running:
                with contextlib.suppress(Exception):
                    run.cancel()
        self.evolve.close()


def _append_outcome(outcome_log: OutcomeLog, record: dict[str, Any]) -> None:
    try:
        outcome_log.append(record)
    except Exception as exc:  # a full disk must not break completions: say it and go on
        log.warning("could not record a suggestion outcome in %s: %s", outcome_log.path, exc)
