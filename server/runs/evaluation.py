"""``evoselfcode.evaluate``: ``evoselfcode eval`` on the serving model, as a child.

The child loads the completion model with the adapter it serves (so the result belongs to that
model version, ``name@adapter``), generates, runs every sample in the sandbox and stores the
run under ``{dataDir}/eval/<modelVersion>/<run>/``. Its JSON lines become a cancellable
``$/progress`` bar with the live pass rate; the end is an ``evoselfcode/evaluationResult``
notification, and the result stays in ``evoselfcode/status`` (``evaluation``), read back from
the newest stored run when the server starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from server.errors import ServerError
from server.progress import WorkProgress
from server.runs.child import (
    ChildExit,
    ChildProcess,
    child_environment,
    command_argv,
    spare_cpu_threads,
)
from server.settings import Settings

if TYPE_CHECKING:
    from server.server import EvoServer

log = logging.getLogger(__name__)
RESULT_METHOD = "evoselfcode/evaluationResult"
BRIEF_FIELDS = ("modelVersion", "dataset", "tasks", "passAt1", "ci95", "counts", "outDir")


class EvaluationSetupError(ServerError):
    """The evaluation cannot start (the message says why)."""


def eval_argv(settings: Settings, dataset: str, limit: int) -> list[str]:
    """``evoselfcode eval`` for the serving model with the ``evoselfcode.evaluation.*`` settings."""
    from models.paths import resolve_data_dir

    evaluation = settings.evaluation
    workers = evaluation.workers or os.cpu_count() or 2
    argv = ["eval", "--model", settings.model, "--dataset", dataset, "--progress", "json"]
    argv += ["--data-dir", str(resolve_data_dir(settings.data_dir)), "--workers", str(workers)]
    argv += ["--timeout", str(evaluation.timeout_seconds)]
    argv += ["--samples-per-task", str(evaluation.samples_per_task)]
    argv += ["--temperature", str(evaluation.temperature)]
    if limit:
        argv += ["--limit", str(limit)]
    if settings.backend == "remote":
        argv += ["--backend", "remote", "--remote-url", settings.remote.base_url]
        if settings.remote.model:
            argv += ["--remote-model", settings.remote.model]
        return command_argv(*argv)
    argv += ["--device", settings.device, "--dtype", settings.dtype]
    if settings.models_dir:
        argv += ["--models-dir", settings.models_dir]
    adapter = served_adapter(settings)
    if adapter:
        argv += ["--adapter", adapter]
    return command_argv(*argv)


def served_adapter(settings: Settings) -> str | None:
    """The folder of the adapter the completion model serves (what the setting names)."""
    from evolution.finetune.serving import resolve_adapter_setting

    try:
        choice = resolve_adapter_setting(
            settings.adapter, data_dir=settings.data_dir or None, base_model=settings.model
        )
    except Exception as exc:  # the serving side falls back to the base model too
        log.warning("evaluating the base model: the adapter setting is unusable (%s)", exc)
        return None
    return str(choice.path) if choice else None


def status_of(brief: dict[str, Any]) -> dict[str, Any]:
    """The ``evaluation`` field of ``evoselfcode/status``."""
    return {key: brief.get(key) for key in ("passAt1", "modelVersion", "dataset", "tasks")}


def last_evaluation(data_dir: Path) -> dict[str, Any] | None:
    """The newest stored run of the data folder (``evoselfcode/evaluationResult`` params)."""
    from evaluation.api import list_evaluations

    runs = list_evaluations(data_dir)  # oldest first
    return runs[-1].brief() if runs else None


async def show_last_evaluation(ls: EvoServer) -> None:
    """Put the newest stored run in the status: at start-up (so after a restart too), when the
    data folder changes, and after a fine-tuning run (its gate evaluates the candidate)."""
    from models.paths import resolve_data_dir

    data_dir = resolve_data_dir(ls.settings.data_dir)
    try:
        brief = await asyncio.to_thread(last_evaluation, data_dir)
    except Exception as exc:  # an unreadable folder: no last result to show
        log.warning("could not read earlier evaluations in %s: %s", data_dir, exc)
        return
    ls.status.set_evaluation(status_of(brief) if brief else None)
    ls.publish_status(True)


class EvaluationRun:
    """One evaluation child from start to its result notification."""

    def __init__(self, ls: EvoServer, argv: list[str], dataset: str) -> None:
        self.ls = ls
        self.run_id = f"eval-{secrets.token_hex(4)}"
        self.dataset = dataset
        self.child = ChildProcess(
            argv,
            name=f"evaluation {self.run_id}",
            on_event=self._on_event,
            env=child_environment(cpu_threads=spare_cpu_threads()),
        )
        self.progress = WorkProgress(ls, None)
        self.cancelled = False
        self.ended = False  # active from creation, so a second request sees it at once
        self._watcher: asyncio.Future[dict[str, Any] | None] | None = None

    @property
    def active(self) -> bool:
        return not self.ended

    async def start(self) -> None:
        self.progress = await WorkProgress.start(
            self.ls,
            f"EvoSelfCode: evaluating on {self.dataset}",
            message="loading the model",
            kind="evaluation",
        )
        self.progress.on_cancel(self.cancel)
        try:
            await self.child.start()
        except OSError as exc:
            self.ended = True
            self.progress.end(f"could not start: {exc}")
            raise EvaluationSetupError(f"could not start the evaluation process: {exc}") from exc
        self._watcher = asyncio.ensure_future(self._watch())
        if self.cancelled:  # cancelled while it was starting
            self.child.stop(group=True, grace_s=5)

    def cancel(self) -> bool:
        """Stop the evaluation and everything it started; False when it has ended."""
        if self.ended:
            return False
        self.cancelled = True
        return not self.child.running or self.child.stop(group=True, grace_s=5)

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") != "progress":
            return
        done, total = event.get("done") or 0, event.get("total") or 0
        rate = event.get("pass_rate")
        shown = f"{done}/{total} samples" + (f" · pass rate {rate:.1%}" if rate is not None else "")
        self.progress.report(shown, 100 * done / total if total else None)

    async def _watch(self) -> dict[str, Any] | None:
        exited = await self.child.wait()
        self.ended = True
        if self.cancelled:
            self.progress.end("cancelled; nothing stored")
            return None
        if exited.result is None or exited.returncode != 0:
            self._fail(exited)
            return None
        brief = {key: exited.result.get(key) for key in BRIEF_FIELDS}
        brief["runId"] = self.run_id
        self.ls.status.set_evaluation(status_of(brief))
        self.ls.publish_status(True)
        score = brief["passAt1"]
        shown = f"{score:.1%}" if isinstance(score, (int, float)) else "n/a"
        line = f"pass@1 {shown} on {brief['tasks']} tasks ({brief['modelVersion']})"
        self.progress.end(line)
        self.ls.protocol.notify(RESULT_METHOD, brief)
        if not self.ls.client_ui:
            self._show(types.MessageType.Info, f"EvoSelfCode: evaluation done: {line}")
        return brief

    def _fail(self, exited: ChildExit) -> None:
        reason = exited.failure("the evaluation process")
        log.error("evaluation %s failed: %s", self.run_id, reason)
        self.progress.end(f"failed: {reason}")
        self._show(types.MessageType.Error, f"EvoSelfCode: the evaluation failed: {reason}")

    def _show(self, kind: types.MessageType, message: str) -> None:
        self.ls.window_show_message(types.ShowMessageParams(type=kind, message=message))
