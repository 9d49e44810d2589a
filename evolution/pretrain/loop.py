"""The loop of one slice: steps until the run's end, a budget or a stop, with progress, the
training log, held-out evaluations and checkpoints."""

from __future__ import annotations

import time
from typing import Any

from evolution.finetune.stopping import StopRequest
from evolution.pretrain.train import LOG_EVERY, Trainer, total_steps


class Meter:
    """Training tokens/s over the steps since the last log line (evaluations excluded)."""

    def __init__(self) -> None:
        self.steps, self.seconds, self.loss = 0, 0.0, 0.0

    def add(self, seconds: float, loss: float) -> None:
        self.steps += 1
        self.seconds += seconds
        self.loss += loss

    def take(self, tokens_per_step: int) -> tuple[float, float]:
        """(mean loss, tokens/s) since the last take."""
        loss = self.loss / max(self.steps, 1)
        rate = self.steps * tokens_per_step / max(self.seconds, 1e-9)
        self.steps, self.seconds, self.loss = 0, 0.0, 0.0
        return loss, rate


def stop_reason(trainer: Trainer, stop: StopRequest, limits: dict[str, float]) -> str | None:
    state = trainer.state
    if state.step >= total_steps(trainer.config):
        return "done"
    if stop.requested:
        return "stopped"
    if "tokens" in limits and state.tokens >= limits["tokens"]:
        return "max-tokens"
    if "deadline" in limits and time.monotonic() >= limits["deadline"]:
        return "max-minutes"
    return None


def slice_limits(trainer: Trainer, started: float) -> dict[str, float]:
    """This slice's budgets as absolute token count and monotonic deadline."""
    config, limits = trainer.config, {}
    if config.max_tokens:
        limits["tokens"] = trainer.state.tokens + config.max_tokens
    if config.max_minutes:
        limits["deadline"] = started + config.max_minutes * 60
    return limits


def train_until(trainer: Trainer, stop: StopRequest, started: float) -> dict[str, Any]:
    """Run the slice; return the result fields (``status`` says why it ended)."""
    config = trainer.config
    gflops = trainer.matmul_gflops()
    limits = slice_limits(trainer, started)
    meter = Meter()
    last: dict[str, Any] = {}
    end = total_steps(config)
    first = True
    with trainer.reporter() as bar:
        while (status := stop_reason(trainer, stop, limits)) is None:
            begun = time.perf_counter()
            loss = trainer.step()
            seconds = time.perf_counter() - begun
            trainer.state.seconds += seconds
            trainer.state.loss = loss
            if not first:  # the first step of a slice also compiles and warms up: no rate
                meter.add(seconds, loss)
            first = False
            step = trainer.state.step
            if step % config.eval_every == 0:
                trainer.state.heldout_loss = trainer.evaluate()
            if step % LOG_EVERY == 0 or step % config.eval_every == 0:
                last = _log(trainer, meter, gflops, evaluated=step % config.eval_every == 0)
            eta = (end - step) * trainer.state.seconds / max(step, 1)
            bar.update(
                1,
                message=f"step {step}/{end}",
                loss=round(loss, 3),
                tok_s=last.get("tok_s", 0),
                eta_s=round(eta),
            )
            if step % config.checkpoint_every == 0:
                trainer.checkpoint()
    if trainer.state.step % config.eval_every or trainer.state.heldout_loss is None:
        trainer.state.heldout_loss = trainer.evaluate()
    if meter.steps:
        last = _log(trainer, meter, gflops, evaluated=True)
    trainer.checkpoint()  # again if the last step had one: the card gets the final numbers
    return _result(trainer, status, last, gflops)


def _log(trainer: Trainer, meter: Meter, gflops: float, *, evaluated: bool) -> dict[str, Any]:
    loss, rate = meter.take(trainer.config.tokens_per_step)
    state = trainer.state
    record = {
        "step": state.step,
        "tokens": state.tokens,
        "loss": round(loss, 4),
        "heldout_loss": (
            round(state.heldout_loss, 4) if evaluated and state.heldout_loss is not None else None
        ),
        "tok_s": round(rate, 1),
        "utilisation": round(rate * trainer.flops_per_token / (gflops * 1e9), 4),
        "lr": trainer.scheduler.get_last_lr()[0],
        "seconds": round(state.seconds, 1),
    }
    trainer.log(record)
    return record


def _result(trainer: Trainer, status: str, last: dict[str, Any], gflops: float) -> dict[str, Any]:
    state = trainer.state
    return {
        "status": status,
        "step": state.step,
        "total_steps": total_steps(trainer.config),
        "tokens": state.tokens,
        "loss": last.get("loss"),
        "heldout_loss": state.heldout_loss,
        "tok_s": last.get("tok_s"),
        "matmul_gflops": round(gflops, 1),
        "flops_per_token": trainer.flops_per_token,
        "utilisation": last.get("utilisation"),
        "parameters": trainer.params,
        "device": trainer.device,
        "threads": trainer.config.cpu_threads,
    }
