"""The LoRA training loop: accelerate-compatible, resumable, stoppable, honest about speed.

Runs as one process on CPU (tested) and under ``accelerate launch`` on several GPUs: the model
and optimizer go through ``Accelerator.prepare`` (DDP), each process takes every
``num_processes``-th micro-batch of a step (``batching.build_plan``), gradients are
synchronised on the last micro-batch only, and the main process writes checkpoints.

The loss of a step is the mean over its labelled tokens (all micro-batches, all processes):
each micro-batch's summed loss is divided by the step's token count (``num_items_in_batch``),
so gradient accumulation and packing do not change what is being minimised.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evolution.finetune.batching import TrainingPlan, build_plan, collate
from evolution.finetune.checkpoint import find_resumable, load_checkpoint, save_checkpoint
from evolution.finetune.config import FinetuneConfig
from evolution.finetune.dataset import PreparedData
from evolution.finetune.errors import TrainingOutOfMemory
from evolution.finetune.events import RunEvents
from evolution.finetune.modeling import LoadedModel
from evolution.finetune.stopping import StopRequest

_SCHEDULES = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}


@dataclass
class TrainOutcome:
    """How training ended."""

    status: Literal["finished", "stopped"]
    step: int
    total_steps: int
    losses: list[float] = field(default_factory=list)  # one per optimizer step
    tokens: int = 0  # real (non-padding) tokens trained on, all sessions
    train_seconds: float = 0.0
    resumed_from: int | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds else 0.0


class Trainer:
    """Train ``loaded.model`` on ``data.train``; checkpoints go to ``run_dir``."""

    def __init__(
        self,
        loaded: LoadedModel,
        data: PreparedData,
        config: FinetuneConfig,
        run_dir: Path,
        events: RunEvents,
        stop: StopRequest | None = None,
    ) -> None:
        from accelerate import Accelerator

        self.loaded = loaded
        self.config = config
        self.data = data
        self.run_dir = run_dir
        self.events = events
        self.stop = stop or StopRequest()
        # Half-precision base weights train under autocast: the fp32 LoRA weights are cast
        # down, instead of every activation being cast up (measured 2x faster on a CPU).
        precision = {"bfloat16": "bf16", "float16": "fp16"}.get(loaded.dtype, "no")
        self.accelerator = Accelerator(cpu=loaded.device == "cpu", mixed_precision=precision)
        self.pad_id = loaded.tokenizer.pad_token_id
        self.plan: TrainingPlan = build_plan(
            data.train,
            epochs=config.epochs,
            batch_size=config.batch_size,
            gradient_accumulation=config.gradient_accumulation,
            max_length=config.max_length,
            packing=config.packing,
            seed=config.seed,
            world_size=self.accelerator.num_processes,
            group_by_length=config.group_by_length,
        )
        self.model: Any
        self.optimizer: Any
        self.model, self.optimizer, self.scheduler = self._prepare(loaded.model)
        self._saved_step: int | None = None

    def _prepare(self, model: Any) -> tuple[Any, Any, Any]:
        import torch
        from transformers import get_scheduler

        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            params, lr=self.config.learning_rate, weight_decay=self.config.weight_decay
        )
        total = len(self.plan)
        scheduler = get_scheduler(
            _SCHEDULES[self.config.lr_scheduler],
            optimizer,
            num_warmup_steps=round(self.config.warmup_ratio * total),
            num_training_steps=total,
        )
        # The scheduler is stepped by hand once per optimizer step on every process.
        model, optimizer = self.accelerator.prepare(model, optimizer)
        return model, optimizer, scheduler

    @property
    def unwrapped(self) -> Any:
        return self.accelerator.unwrap_model(self.model)

    def release(self) -> None:
        """Drop the model and optimizer (before the gate loads models of its own)."""
        self.model = self.optimizer = self.loaded.model = None
        self.accelerator.free_memory()

    def train(self, *, resume: bool = False) -> TrainOutcome:
        """Run (or continue) the plan until it ends or a stop is requested."""
        outcome = TrainOutcome(status="finished", step=0, total_steps=len(self.plan))
        if resume:
            self._restore(outcome)
        self.model.train()
        started, session_tokens, start_step = time.perf_counter(), 0, outcome.step
        bar = self.events.progress(len(self.plan), "fine-tuning")
        if outcome.step:
            bar.update(outcome.step, phase="train", step=outcome.step)
        with bar:
            for step in range(outcome.step, len(self.plan)):
                result = self._step(step)
                if result is None:  # stopped between micro-batches; the step is dropped
                    break
                loss, real_tokens = result
                outcome.step = step + 1
                outcome.losses.append(loss)
                outcome.tokens += real_tokens
                session_tokens += real_tokens
                elapsed = time.perf_counter() - started
                done_here = outcome.step - start_step
                bar.update(
                    phase="train",
                    step=outcome.step,
                    loss=round(loss, 4),
                    tokens_per_s=round(session_tokens / elapsed, 1),
                    eta_s=round(elapsed / done_here * (len(self.plan) - outcome.step), 1),
                    lr=self.scheduler.get_last_lr()[0],
                    epoch=round(self._epoch(outcome.step), 3),
                )
                if outcome.step % self.config.checkpoint_every == 0:
                    self._checkpoint(outcome)
                if self._stop_agreed():
                    break
        outcome.train_seconds += time.perf_counter() - started
        if outcome.step < len(self.plan):
            outcome.status = "stopped"
        self._checkpoint(outcome)
        return outcome

    def _step(self, step: int) -> tuple[float, int] | None:
        """One optimizer step; None when a stop came before its last micro-batch."""
        accelerator, world = self.accelerator, self.accelerator.num_processes
        micro_batches = self.plan.steps[step][accelerator.process_index :: world]
        # Each process's summed loss over N/world tokens: DDP's mean gives the global mean.
        denominator = self.plan.target_tokens[step] / world
        loss_total, real_tokens = 0.0, 0
        for index, micro in enumerate(micro_batches):
            if self.stop.requested and world == 1:  # several processes stop between steps
                self.optimizer.zero_grad(set_to_none=True)
                return None
            batch = collate(self.data.train, micro, self.pad_id, self.config.packing)
            real_tokens += batch.pop("real_tokens")
            last = index == len(micro_batches) - 1
            sync = contextlib.nullcontext() if last else accelerator.no_sync(self.model)
            with sync, self._out_of_memory_hint(step):
                inputs = {k: v.to(accelerator.device) for k, v in batch.items()}
                loss = self.model(**inputs, use_cache=False, num_items_in_batch=denominator).loss
                accelerator.backward(loss)
            loss_total += loss.item()
        if self.config.max_grad_norm > 0:
            params = [p for p in self.model.parameters() if p.requires_grad]
            accelerator.clip_grad_norm_(params, self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if world > 1:
            import torch

            reduced: Any = accelerator.reduce(torch.tensor(loss_total), reduction="mean")
            loss_total = reduced.item()
        return loss_total, real_tokens

    def _stop_agreed(self) -> bool:
        """A stop seen by any process stops all of them at the same step (DDP needs that)."""
        if self.accelerator.num_processes == 1:
            return self.stop.requested
        import torch

        flag = torch.tensor([1.0 if self.stop.requested else 0.0], device=self.accelerator.device)
        agreed: Any = self.accelerator.reduce(flag, reduction="sum")
        return bool(agreed.item() > 0)

    def _epoch(self, steps_done: int) -> float:
        per_step = self.config.gradient_accumulation * self.accelerator.num_processes
        return steps_done * per_step / max(1, self.plan.micro_batches_per_epoch)

    def _restore(self, outcome: TrainOutcome) -> None:
        checkpoint = find_resumable(self.run_dir, self.events.warning)
        if checkpoint is None:
            return
        state = load_checkpoint(
            checkpoint, model=self.unwrapped, optimizer=self.optimizer, scheduler=self.scheduler
        )
        outcome.step = outcome.resumed_from = state["step"]
        outcome.losses = list(state.get("losses", []))
        outcome.tokens = int(state.get("tokens", 0))
        outcome.train_seconds = float(state.get("train_seconds", 0.0))
        self._saved_step = state["step"]
        self.events.phase("train", f"resuming at step {state['step']} of {len(self.plan)}")

    def _checkpoint(self, outcome: TrainOutcome) -> None:
        if self._saved_step == outcome.step:
            return
        if self.accelerator.is_main_process:
            checkpoint = save_checkpoint(
                self.run_dir,
                outcome.step,
                model=self.unwrapped,
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                state={
                    "losses": outcome.losses,
                    "tokens": outcome.tokens,
                    "train_seconds": outcome.train_seconds,
                    "total_steps": len(self.plan),
                },
                keep=self.config.keep_checkpoints,
            )
            self.events.checkpoint(outcome.step, str(checkpoint.path))
        self.accelerator.wait_for_everyone()
        self._saved_step = outcome.step

    @contextlib.contextmanager
    def _out_of_memory_hint(self, step: int) -> Iterator[None]:
        """Turn an allocator failure into an error that names the settings to lower."""
        try:
            yield
        except (MemoryError, RuntimeError) as exc:
            if not is_out_of_memory(exc):
                raise
            self.optimizer.zero_grad(set_to_none=True)
            c = self.config
            raise TrainingOutOfMemory(
                f"out of memory on {self.accelerator.device} at step {step + 1} with "
                f"batch_size={c.batch_size} (sequences of up to max_length={c.max_length} "
                "tokens): lower "
                f"--batch-size (e.g. {max(1, c.batch_size // 2)}; raise --gradient-accumulation "
                "to keep the effective batch), lower --max-length, or turn on "
                "--gradient-checkpointing"
            ) from exc


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocator failures (torch raises RuntimeError subclasses)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text
