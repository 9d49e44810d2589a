"""Commands for the loop's long runs and its data: fine-tune, evaluate, adapters, training data.

``evoselfcode.fineTune`` and ``evoselfcode.evaluate`` answer at once with a ``runId`` and go on
in a child process (``server/runs/``); one of each at a time, a second is refused with what
is running. ``evoselfcode.adapters`` lists, promotes and rolls back adapters (hot swap after);
``evoselfcode.trainingData`` gives the store's statistics and its file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from server import rpc
from server.errors import ServerError
from server.runs import adapters, evaluation, finetune
from server.server import EvoServer
from server.settings import camel

log = logging.getLogger(__name__)
FINETUNE_USAGE = "evoselfcode.fineTune takes {overrides?: {setting: value}, resume?: bool}"
EVALUATE_USAGE = "evoselfcode.evaluate takes {dataset?: string, limit?: number}"
ADAPTERS_USAGE = 'evoselfcode.adapters takes {action: "list"|"promote"|"rollback", id?, force?}'


def register(server: EvoServer) -> None:
    @server.command("evoselfcode.fineTune")
    async def fine_tune(ls: EvoServer, *args: Any) -> dict[str, Any]:
        arg = rpc.command_argument(args, FINETUNE_USAGE)
        overrides = arg.get("overrides") or {}
        if not isinstance(overrides, Mapping):
            raise rpc.invalid_params(FINETUNE_USAGE)
        resume = rpc.optional_bool(arg, "resume")
        try:
            run = await finetune.start_run(ls, overrides, resume=resume)
        except ServerError as exc:
            raise rpc.request_failed(str(exc)) from exc
        return {"runId": run.run_id}

    @server.command("evoselfcode.cancelFineTune")
    def cancel_fine_tune(ls: EvoServer, *args: Any) -> dict[str, Any]:
        run = ls.finetune_run
        return {"cancelled": bool(run is not None and run.active and run.cancel())}

    @server.command("evoselfcode.evaluate")
    async def evaluate(ls: EvoServer, *args: Any) -> dict[str, Any]:
        arg = rpc.command_argument(args, EVALUATE_USAGE)
        dataset = rpc.optional_string(arg, "dataset") or ls.settings.evaluation.dataset
        limit = arg.get("limit", ls.settings.evaluation.limit)
        limit = ls.settings.evaluation.limit if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise rpc.invalid_params(f"limit must be a whole number ≥ 0 (0: all): {EVALUATE_USAGE}")
        running = ls.evaluation_run
        if running is not None and running.active:
            raise rpc.request_failed(
                f"an evaluation is already running ({running.run_id}, {running.dataset}); "
                "wait for it to end or cancel its progress"
            )
        argv = evaluation.eval_argv(ls.settings, dataset, limit)
        run = ls.evaluation_run = evaluation.EvaluationRun(ls, argv, dataset)  # before any await
        try:
            await run.start()
        except ServerError as exc:
            raise rpc.request_failed(str(exc)) from exc
        log.info("evaluation %s started: %s, %s tasks", run.run_id, dataset, limit or "all")
        return {"runId": run.run_id}

    @server.command("evoselfcode.adapters")
    async def adapters_command(ls: EvoServer, *args: Any) -> dict[str, Any]:
        arg = rpc.command_argument(args, ADAPTERS_USAGE)
        action = arg.get("action", "list")
        adapter_id = rpc.optional_string(arg, "id")
        if action not in adapters.ACTIONS or (action == "promote" and not adapter_id):
            raise rpc.invalid_params(ADAPTERS_USAGE)
        force = rpc.optional_bool(arg, "force")
        try:
            state = await adapters.run_action(ls.settings, action, adapter_id, force)
        except ServerError as exc:
            raise rpc.request_failed(str(exc)) from exc
        if action != "list":
            log.info("adapters %s %s: %s promoted", action, adapter_id or "", state["promoted"])
            ls.cache.clear()
            ls.host.refresh_adapter()
        return state

    @server.command("evoselfcode.trainingData")
    async def training_data(ls: EvoServer, *args: Any) -> dict[str, Any]:
        try:
            stats = await ls.evolve.stats(ls.settings.data_dir)
        except Exception as exc:  # an unreadable store: say where and why
            raise rpc.request_failed(f"could not read the training data: {exc}") from exc
        return {camel(key): value for key, value in stats.items()}
