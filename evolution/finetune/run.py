"""One fine-tuning run from start to end: data → LoRA training → registry → promotion gate.

``run_finetune`` is what ``evoselfcode finetune`` calls; it is resumable at every stage (see
``runs.py`` for the states) and returns a :class:`RunResult` whose ``to_dict()`` is the
command's final ``{"event": "result"}`` line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evolution.finetune.completion_gate import completion_judge
from evolution.finetune.config import FinetuneConfig
from evolution.finetune.dataset import PreparedData, check_enough_records, prepare_data
from evolution.finetune.errors import ResumeError
from evolution.finetune.events import RunEvents
from evolution.finetune.promotion import current_baseline, run_gate
from evolution.finetune.records import data_hash, load_pairs, split_heldout, write_snapshot
from evolution.finetune.registry import AdapterRecord, AdapterRegistry, new_adapter_id, utc_now
from evolution.finetune.runs import RunFolder, new_run, run_to_resume
from evolution.finetune.stopping import StopRequest
from evolution.finetune.trainer import Trainer, TrainOutcome
from evolution.finetune.workspace_data import (
    collect_workspace,
    prepare_workspace_data,
    read_snapshot,
    registry_root,
    workspace_report,
)
from evolution.finetune.workspace_data import write_snapshot as write_workspace_snapshot

LOSS_CURVE_POINTS = 100  # losses kept in results and reports (every k-th step)


@dataclass
class RunRequest:
    """What to train on and where.

    On resume the run's own config is used; ``overrides`` (the flags given now) may change
    how it runs (device, checkpoints, gate) but not what it trains.
    """

    config: FinetuneConfig
    data_path: Path
    data_dir: Path
    resume: bool = False
    overwrite: bool = False
    registry_dir: Path | None = None  # default: {data_dir}/adapters
    overrides: dict[str, Any] = field(default_factory=dict)  # fields given explicitly


@dataclass
class RunResult:
    """The outcome of a run (also the last JSON line of the command)."""

    status: str  # "finished" | "stopped"
    run_dir: str
    step: int
    total_steps: int
    adapter_id: str | None = None
    promoted: bool = False
    reason: str = ""
    report_path: str | None = None
    adapter_path: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_finetune(request: RunRequest, events: RunEvents, stop: StopRequest) -> RunResult:
    """Train (or resume), register the adapter and run the gate; see the module docstring."""
    from evolution.finetune.modeling import cpu_threads

    folder, config, info = _open_run(request)
    with folder.exclusive(), cpu_threads(config.threads):
        return _run(folder, config, info, request, events, stop)


def _run(
    folder: RunFolder,
    config: FinetuneConfig,
    info: dict[str, Any],
    request: RunRequest,
    events: RunEvents,
    stop: StopRequest,
) -> RunResult:
    from evolution.finetune.modeling import load_for_training, load_tokenizer, resolve_base_model

    registry = AdapterRegistry(request.registry_dir or registry_root(request.data_dir, config))
    model_path = resolve_base_model(config)
    tokenizer = load_tokenizer(model_path)
    workspace = None
    if config.workspace:
        events.phase(
            "data", f"reading the workspace snapshot ({folder.path})", run_dir=str(folder.path)
        )
        workspace = read_snapshot(folder.path)
        data = prepare_workspace_data(workspace, tokenizer, config)
    else:
        events.phase("data", f"reading training pairs ({folder.path})", run_dir=str(folder.path))
        pairs = split_heldout(load_pairs(folder.data_file), config.eval_share)
        source = str(info.get("data_path"))
        data = prepare_data(*pairs, tokenizer, config, source=source)
    events.phase("data", _data_summary(data, config), **data.stats.to_dict())
    events.phase("model", f"loading {config.base_model} with LoRA r={config.lora_rank}")
    loaded = load_for_training(config, model_path=model_path, tokenizer=tokenizer)
    trainer = Trainer(loaded, data, config, folder.path, events, stop)
    if info.get("state") in ("trained", "gating"):
        outcome = _restore_trained(trainer, folder)
    else:
        folder.update(state="training")
        outcome = trainer.train(resume=request.resume)
    result = RunResult(
        status=outcome.status,
        run_dir=str(folder.path),
        step=outcome.step,
        total_steps=outcome.total_steps,
        data=data.stats.to_dict(),
        training=_training_summary(outcome),
        warnings=events.warnings,
    )
    if outcome.status == "stopped":
        folder.update(state="stopped")
        result.reason = "checkpoint saved; continue with `evoselfcode finetune --resume`"
        return result
    record = _register(trainer, folder, registry, config, info, data, outcome, loaded)
    folder.update(state="gating", adapter_id=record.id)
    report = _report(record, config, data, result, loaded.random_weights)
    if workspace is not None:
        report["workspace"] = workspace_report(workspace, config)
    judge = None
    if workspace is not None:  # a completion adapter is judged on completions
        judge = completion_judge(
            workspace, model_path, registry, record, config, events, stop, data_dir=request.data_dir
        )
    settled = run_gate(
        model=trainer.unwrapped,
        release_model=trainer.release,
        registry=registry,
        candidate=record,
        config=config,
        data=data,
        pad_id=tokenizer.pad_token_id,
        report=report,
        data_dir=request.data_dir,
        events=events,
        stop=stop,
        judge=judge,
    )
    result.adapter_id = record.id
    result.adapter_path = str(registry.path_of(record.id))
    if settled is None:
        result.status = "stopped"
        result.reason = "stopped during the promotion gate; --resume runs the gate again"
        return result
    folder.update(state="finished")
    result.report_path = str(registry.path_of(record.id) / (settled.report or ""))
    result.promoted = settled.status == "promoted"
    registry_flag = f" --workspace {config.workspace}" if config.workspace else ""
    not_judged = (
        "not judged (auto_promote is off): promote it with "
        f"`evoselfcode adapters{registry_flag} promote {record.id}`"
    )
    result.reason = (settled.gate or {}).get("reason", not_judged)
    return result


def _open_run(request: RunRequest) -> tuple[RunFolder, FinetuneConfig, dict[str, Any]]:
    config = request.config
    if request.resume:
        folder = run_to_resume(request.data_dir, config.save_path)
        info = folder.read()
        saved = FinetuneConfig.from_mapping(info["config"])
        return folder, _resumed_config(saved, request.overrides, folder), info
    if config.workspace:  # the workspace's files, frozen in the run folder
        from evolution.finetune.modeling import resolve_base_model

        workspace = collect_workspace(config, request.data_dir, resolve_base_model(config))
        folder = new_run(request.data_dir, config.save_path, overwrite=request.overwrite)
        source, digest = str(workspace.root), write_workspace_snapshot(folder.path, workspace)
    else:
        pairs = load_pairs(request.data_path)
        check_enough_records(len(pairs), config, str(request.data_path))
        folder = new_run(request.data_dir, config.save_path, overwrite=request.overwrite)
        write_snapshot(folder.data_file, pairs)
        source, digest = str(request.data_path), data_hash(pairs)
    info = folder.update(
        run_id=folder.run_id,
        created_at=utc_now(),
        state="preparing",
        config=config.to_dict(),
        data_path=source,
        data_hash=digest,
    )
    return folder, config, info


def _resumed_config(
    saved: FinetuneConfig, overrides: dict[str, Any], folder: RunFolder
) -> FinetuneConfig:
    fixed = saved.training_fields()
    clashes = [
        f"{name} (run: {fixed[name]!r}, given: {value!r})"
        for name, value in overrides.items()
        if name in fixed
        and FinetuneConfig.from_mapping({name: value}).to_dict()[name] != fixed[name]
    ]
    if clashes:
        raise ResumeError(
            f"the run in {folder.path} was started with other settings: {'; '.join(clashes)}. "
            "Resume without them, or start a new run"
        )
    return FinetuneConfig.from_mapping(
        {k: v for k, v in overrides.items() if k != "save_path"}, base=saved
    )


def _restore_trained(trainer: Trainer, folder: RunFolder) -> TrainOutcome:
    """A run killed after training: reload the saved adapter instead of training again."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from evolution.finetune.checkpoint import verify_folder

    verify_folder(folder.adapter_dir)
    weights = load_file(str(folder.adapter_dir / "adapter_model.safetensors"))
    set_peft_model_state_dict(trainer.unwrapped, weights)
    outcome = TrainOutcome("finished", len(trainer.plan), len(trainer.plan))
    state = folder.read().get("training", {})
    outcome.losses = state.get("losses", [])
    outcome.tokens = state.get("tokens", 0)
    outcome.train_seconds = state.get("seconds", 0.0)
    return outcome


def _register(trainer, folder, registry, config, info, data, outcome, loaded) -> AdapterRecord:
    """Publish the final adapter in the run folder, then copy it into the registry."""
    from evolution.finetune.checkpoint import publish_folder

    if info.get("adapter_id"):
        return registry.get(info["adapter_id"])
    for existing in registry.records():  # registered before a kill, run.json not yet updated
        if existing.run_dir == str(folder.path):
            return existing
    if trainer.accelerator.is_main_process:
        publish_folder(folder.adapter_dir, lambda out: trainer.unwrapped.save_pretrained(str(out)))
    training = _training_summary(outcome)
    folder.update(state="trained", training=training)
    baseline = current_baseline(registry, config.base_model)
    record = AdapterRecord(
        id=new_adapter_id(info["data_hash"]),
        base_model=config.base_model,
        data_hash=info["data_hash"],
        created_at=utc_now(),
        parent=baseline.adapter_id,
        config=config.to_dict(),
        metrics={"training": training, "data": data.stats.to_dict()},
        random_weights=loaded.random_weights,
        run_dir=str(folder.path),
    )
    return registry.add(folder.adapter_dir, record)


def _report(record, config, data, result, random_weights: bool) -> dict[str, Any]:
    return {
        "adapter_id": record.id,
        "base_model": config.base_model,
        "random_weights": random_weights,
        "created_at": record.created_at,
        "parent": record.parent,
        "data_hash": record.data_hash,
        "config": config.to_dict(),
        "data": data.stats.to_dict(),
        "training": result.training,
        "gate": None,
    }


def _training_summary(outcome: TrainOutcome) -> dict[str, Any]:
    every = max(1, -(-len(outcome.losses) // LOSS_CURVE_POINTS))  # a curve, not every step
    return {
        "steps": outcome.step,
        "total_steps": outcome.total_steps,
        "loss_first": round(outcome.losses[0], 5) if outcome.losses else None,
        "loss_last": round(outcome.losses[-1], 5) if outcome.losses else None,
        "losses": [round(x, 5) for x in outcome.losses[::every]],
        "loss_every": every,
        "tokens": outcome.tokens,
        "seconds": round(outcome.train_seconds, 2),
        "tokens_per_s": round(outcome.tokens_per_s, 1),
        "resumed_from": outcome.resumed_from,
    }


def _data_summary(data: PreparedData, config: FinetuneConfig) -> str:
    s = data.stats
    skipped = sum(s.skipped_too_long.values())
    return (
        f"{s.records} records: {s.train_records} for training, {s.heldout_records} held out; "
        f"examples {s.train_examples} (held out {s.heldout_examples}); {skipped} skipped as "
        f"longer than max_length={config.max_length}"
    )
