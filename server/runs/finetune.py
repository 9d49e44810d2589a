"""``evoselfcode.fineTune``: ``evoselfcode finetune`` as a child, relayed to the editor.

The run trains the completion model (``evoselfcode.model``) with the ``evoselfcode.finetune.*``
settings and the chat system prompt, under the command's ``overrides`` (any
``FinetuneConfig`` field, camelCase or snake_case), into
``{dataDir}/finetune/<runId>/``. Its JSON lines become a cancellable ``$/progress`` bar (step,
loss, tokens/s, time left) and the ``finetune`` field of ``evoselfcode/status``; the end is an
``evoselfcode/finetuneResult`` notification. When the gate promotes the new adapter, the
serving model switches to it at once (the adapter setting ``promoted`` now names it).
Cancelling sends SIGTERM: the run writes a checkpoint and stops (``resume: true`` continues it).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from server.errors import ServerError
from server.progress import WorkProgress
from server.runs.child import ChildExit, ChildProcess, child_environment, spare_cpu_threads
from server.settings import Settings

if TYPE_CHECKING:
    from server.server import EvoServer

log = logging.getLogger(__name__)
RESULT_METHOD = "evoselfcode/finetuneResult"


class FinetuneSetupError(ServerError):
    """The run cannot start: a bad override, a remote model, nothing to resume..."""


@dataclass(frozen=True)
class FinetuneLaunch:
    run_id: str
    argv: list[str]


async def start_run(ls: EvoServer, overrides: Mapping[str, Any], *, resume: bool) -> FinetuneRun:
    """Start a run (the palette command, or the workspace's automatic one); one at a time."""
    running = ls.finetune_run
    if running is not None and running.active:
        raise FinetuneSetupError(
            f"a fine-tuning run is already going: {running.describe()}; wait for it to end "
            "or cancel it (evoselfcode.cancelFineTune)"
        )
    plan = launch(ls.settings, overrides, resume=resume)
    run = ls.finetune_run = FinetuneRun(ls, plan)  # taken before any await
    await run.start()
    log.info("fine-tuning %s started", run.run_id)
    return run


def launch(settings: Settings, overrides: Mapping[str, Any], *, resume: bool) -> FinetuneLaunch:
    """The child's command line from the settings and overrides (validated here)."""
    from evolution.finetune import FinetuneError, finetune_argv
    from evolution.finetune.config import camel_to_snake
    from evolution.finetune.runs import run_to_resume
    from models.paths import resolve_data_dir

    if settings.backend == "remote":
        raise FinetuneSetupError(
            "fine-tuning trains the local completion model; evoselfcode.backend is 'remote'"
        )
    data_dir = resolve_data_dir(settings.data_dir)
    given = {camel_to_snake(str(key)): value for key, value in overrides.items()}
    workspace = given.get("workspace")
    if workspace and not (isinstance(workspace, str) and Path(workspace).expanduser().is_dir()):
        raise FinetuneSetupError(f"the workspace to train on must be a folder: {workspace!r}")
    try:
        if resume:  # the run keeps its own config; only how it runs may change
            folder = run_to_resume(data_dir, str(given.get("save_path") or ""))
            config = {"threads": spare_cpu_threads(), **given, "save_path": str(folder.path)}
            argv = finetune_argv(config, data_dir=data_dir, resume=True)
            return FinetuneLaunch(folder.path.name, argv)
        run_id = _new_run_id()
        save_path = str(given.get("save_path") or data_dir / "finetune" / run_id)
        config = {**from_settings(settings), **given, "save_path": save_path}
        return FinetuneLaunch(Path(save_path).name, finetune_argv(config, data_dir=data_dir))
    except FinetuneError as exc:
        raise FinetuneSetupError(str(exc)) from exc


def from_settings(settings: Settings) -> dict[str, Any]:
    """The run's config from the editor's settings (snake_case ``FinetuneConfig`` fields)."""
    tune = settings.finetune
    return {
        "base_model": settings.model,
        "models_dir": settings.models_dir,
        "device": settings.device,
        "dtype": settings.dtype,
        "quantization": "4bit" if settings.quantization == "4bit" else "none",
        "threads": spare_cpu_threads(),  # one core stays with the completion model
        "system_prompt": settings.chat.system_prompt,
        "epochs": tune.epochs,
        "learning_rate": tune.learning_rate,
        "lora_rank": tune.lora_rank,
        "lora_alpha": tune.lora_alpha,
        "batch_size": tune.batch_size,
        "max_length": tune.max_length,
        "fim_share": tune.fim_share,
        "eval_dataset": tune.eval_dataset,
        "eval_prompt_format": tune.eval_prompt_format,
        "eval_tasks": tune.eval_tasks,
        "auto_promote": tune.auto_promote,
    }


def _new_run_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"run-{stamp}-{secrets.token_hex(2)}"


class FinetuneRun:
    """One fine-tuning child from start to its result notification."""

    def __init__(self, ls: EvoServer, plan: FinetuneLaunch) -> None:
        self.ls = ls
        self.run_id = plan.run_id
        self.child = ChildProcess(
            plan.argv,
            name=f"fine-tuning {plan.run_id}",
            on_event=self._on_event,
            env=child_environment(),
        )
        self.state: dict[str, Any] = {"state": "starting", "runId": plan.run_id}
        self.progress = WorkProgress(ls, None)
        self.cancelled = False
        self.ended = False  # active from creation, so a second request sees it at once
        self._watcher: asyncio.Future[dict[str, Any]] | None = None

    @property
    def active(self) -> bool:
        return not self.ended

    async def start(self) -> None:
        self.progress = await WorkProgress.start(
            self.ls, "EvoSelfCode: fine-tuning", message="starting", kind="finetune"
        )
        self.progress.on_cancel(self.cancel)
        try:
            await self.child.start()
        except OSError as exc:
            self.ended = True
            self.progress.end(f"could not start: {exc}")
            raise FinetuneSetupError(f"could not start the fine-tuning process: {exc}") from exc
        self._publish()
        self._watcher = asyncio.ensure_future(self._watch())
        if self.cancelled:  # cancelled while it was starting
            self.child.stop(group=False)

    def cancel(self) -> bool:
        """Stop the run (it checkpoints first); False when it has ended."""
        if self.ended:
            return False
        self.cancelled = True
        self.progress.report("stopping: writing a checkpoint", force=True)
        return not self.child.running or self.child.stop(group=False)  # it stops its helpers

    def describe(self) -> str:
        step, total = self.state.get("step"), self.state.get("total")
        where = f", step {step}/{total}" if step is not None and total else ""
        return f"run {self.run_id} ({self.state['state']}{where})"

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "phase":
            self.state["state"] = event.get("phase", self.state["state"])
            self.progress.report(str(event.get("message", "")))
        elif kind == "progress":
            self._on_progress(event)
        elif kind == "warning":
            log.warning("fine-tuning: %s", event.get("message"))
        elif kind == "checkpoint":
            log.info("fine-tuning checkpoint at step %s: %s", event.get("step"), event.get("path"))
        else:
            return
        self._publish()

    def _on_progress(self, event: dict[str, Any]) -> None:
        phase = event.get("phase") or self.state["state"]
        done, total = event.get("done") or 0, event.get("total") or 0
        percentage = 100 * done / total if total else None
        self.state["state"] = phase
        if phase != "train":
            self.progress.report(f"{phase}: {done}/{total} {event.get('message') or ''}".strip())
            return
        self.state.update(step=event.get("step", done), total=total, loss=event.get("loss"))
        parts = [f"step {self.state['step']}/{total}"]
        if event.get("loss") is not None:
            parts.append(f"loss {event['loss']:.4f}")
        if event.get("tokens_per_s") is not None:
            parts.append(f"{event['tokens_per_s']:.0f} tokens/s")
        if event.get("eta_s") is not None:
            parts.append(f"{event['eta_s']:.0f} s left")
        self.progress.report(" · ".join(parts), percentage)

    def _publish(self) -> None:
        self.ls.status.set_finetune(dict(self.state))
        self.ls.publish_status()

    async def _watch(self) -> dict[str, Any]:
        exited = await self.child.wait()
        self.ended = True
        outcome = self._outcome(exited)
        self.state["state"] = outcome["status"]
        for field in ("adapterId", "promoted"):
            self.state[field] = outcome[field]
        self.ls.status.set_finetune(dict(self.state))
        self.ls.publish_status(True)
        self.progress.end(outcome["reason"])
        if outcome["promoted"]:
            self.ls.cache.clear()
            self.ls.host.refresh_adapter()  # "promoted" now names the new adapter
        self.ls.protocol.notify(RESULT_METHOD, outcome)
        self.ls.show_last_evaluation()  # the gate evaluated the candidate
        if not self.ls.client_ui:
            self._show(outcome)
        return outcome

    def _show(self, outcome: dict[str, Any]) -> None:
        """The end, for clients without our UI (which shows the notification itself)."""
        failed = outcome["status"] == "failed"
        kind = types.MessageType.Error if failed else types.MessageType.Info
        verdict = "promoted" if outcome["promoted"] else "not promoted"
        message = f"EvoSelfCode: fine-tuning {outcome['status']}; {verdict}: {outcome['reason']}"
        self.ls.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def _outcome(self, exited: ChildExit) -> dict[str, Any]:
        """The ``evoselfcode/finetuneResult`` params."""
        result = exited.result or {}
        outcome: dict[str, Any] = {
            "runId": self.run_id,
            "status": "failed",
            "adapterId": result.get("adapter_id"),
            "promoted": bool(result.get("promoted")),
            "reason": result.get("reason") or "",
            "reportPath": result.get("report_path"),
        }
        if result.get("status") == "finished":
            outcome["status"] = "finished"
        elif result.get("status") == "stopped":
            outcome["status"] = "cancelled"
            step, total = result.get("step"), result.get("total_steps")
            outcome["reason"] = (
                f"cancelled at step {step} of {total}; the checkpoint is kept: fine-tune with "
                "{resume: true} (or `evoselfcode finetune --resume`) to continue"
            )
        elif self.cancelled:  # stopped before it could write a checkpoint
            outcome["status"] = "cancelled"
            outcome["reason"] = "cancelled before training started"
        else:
            outcome["reason"] = exited.failure("the fine-tuning process")
        return outcome
