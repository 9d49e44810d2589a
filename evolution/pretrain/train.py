"""The training loop: AdamW, warm-up + cosine, gradient clipping, held-out loss, checkpoints.

A run is resumable at any moment: a checkpoint every ``checkpoint_every`` steps and on
SIGINT/SIGTERM (the step in flight finishes first), each published atomically; rerunning the
same command continues from the newest. ``max_tokens`` / ``max_minutes`` end a *slice* of the
run (checkpoint, export, exit 0), ``tokens`` ends the run. After every checkpoint the model
folder is refreshed, so it always holds the newest weights with their card.

Float32 on a CPU: without bfloat16 instructions, bf16 autocast measured ~10x slower here.
On CUDA the forward runs under bf16 autocast with float32 master weights.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolution.pretrain.checkpoint import load_latest, save_checkpoint
from evolution.pretrain.config import ConfigError, PretrainConfig
from evolution.pretrain.data import PreparedData, tokenizer_of
from evolution.pretrain.init_from import load_weights
from evolution.pretrain.model import (
    build_model,
    flops_per_token,
    measure_matmul_gflops,
    parameter_count,
)
from evolution.pretrain.tokencache import TokenWindows
from models.progress import ProgressReporter

LOG_FILE = "train_log.jsonl"
LOG_EVERY = 10  # steps per log line (and per progress message in JSON mode)


@dataclass
class RunState:
    """Where the run stands; saved in every checkpoint."""

    step: int = 0
    windows: int = 0  # data position: windows consumed so far
    tokens: int = 0
    seconds: float = 0.0  # training time over all slices
    heldout_loss: float | None = None
    loss: float | None = None
    # The run's length as each stretch of it was trained: ``tokens`` sets the cosine schedule
    # and may change on resume, so reproducing the weights takes one command per stretch.
    schedule: list[dict[str, Any]] = field(default_factory=list)

    def follow(self, tokens: int) -> None:
        """Record that training goes on from here with a run length of ``tokens``."""
        if not self.schedule or self.schedule[-1]["tokens"] != tokens:
            self.schedule.append({"from_step": self.step, "tokens": tokens})


def total_steps(config: PretrainConfig) -> int:
    return math.ceil(config.tokens / config.tokens_per_step)


def lr_factor(step: int, config: PretrainConfig) -> float:
    """Linear warm-up to the peak, then cosine decay to ``min_lr_ratio`` of it."""
    if step < config.warmup_steps:
        return (step + 1) / (config.warmup_steps + 1)
    span = max(1, total_steps(config) - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine


def choose_device(config: PretrainConfig) -> str:
    import torch

    from models.device import choose_device as runtime_choice

    device = runtime_choice(config.device)
    if device == "mps":
        device = "cpu"  # untested here; the CPU path is the measured one
    torch.set_num_threads(config.cpu_threads)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    return device


def make_optimizer(model: Any, config: PretrainConfig) -> tuple[Any, Any]:
    """AdamW (no decay on norms and biases) and its warm-up + cosine scheduler."""
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
        betas=(0.9, 0.95),
        fused=bool(decay) and decay[0].is_cuda,  # one kernel for all parameters on a GPU
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    return optimizer, scheduler


class Trainer:
    """One slice of a run: set up, resume, train until a budget or a stop, save."""

    def __init__(
        self,
        config: PretrainConfig,
        data: PreparedData,
        work: Path,
        json_lines: bool,
        export: Any,
    ) -> None:
        import torch

        self.config, self.data, self.work, self.export = config, data, work, export
        self.device = choose_device(config)
        vocab = tokenizer_of(data).get_vocab()
        torch.manual_seed(config.seed)
        self.model = build_model(config, vocab)
        if config.init_from:
            load_weights(self.model, config)  # a checkpoint, where there is one, comes after
        self.model = self.model.to(self.device)
        self.forward = torch.compile(self.model) if config.compile else self.model
        self.optimizer, self.scheduler = make_optimizer(self.model, config)
        self.train_windows = TokenWindows(
            data.train_tokens, config.context, config.vocab_size, config.seed
        )
        self.heldout = TokenWindows(
            data.heldout_tokens, config.context, config.vocab_size, config.seed
        ).spread(config.eval_batches * config.batch_size)
        self.params = parameter_count(self.model)
        self.flops_per_token = flops_per_token(self.params, config)
        self.json_lines = json_lines
        self.state = RunState()
        self.state.follow(config.tokens)

    # -- resume ----------------------------------------------------------------------------

    def resume(self, warn: Any) -> bool:
        saved = load_latest(
            self.work,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            warn=warn,
        )
        if saved is None:
            _truncate_log(self.work / LOG_FILE, 0)
            return False
        changed = {
            k: (v, getattr(self.config, k, None))
            for k, v in saved["config"].items()
            if getattr(self.config, k, None) != v
        }
        if changed:
            listed = ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in changed.items())
            raise ConfigError(
                f"the run in {self.work} was started with other settings ({listed}); "
                "rerun with the original ones, or pass --restart to start over"
            )
        if saved.get("data_fingerprint") != self.data.summary.get("fingerprint"):
            raise ConfigError(
                f"the prepared data in {self.work} is not the data the run started on (it was "
                "prepared again, by other code or on another machine); pass --restart to start "
                "over on the new data"
            )
        fields = {k: saved[k] for k in ("step", "windows", "tokens", "seconds") if k in saved}
        # A checkpoint from before schedules were recorded: its run length is not known.
        schedule = saved.get("schedule") or [{"from_step": 0, "tokens": None}]
        self.state = RunState(**fields, heldout_loss=saved.get("heldout_loss"), schedule=schedule)
        self.state.follow(self.config.tokens)
        _truncate_log(self.work / LOG_FILE, self.state.step)
        return True

    # -- one step --------------------------------------------------------------------------

    def _batch(self) -> tuple[Any, Any]:
        import torch

        rows = self.train_windows.batch(self.state.windows, self.config.batch_size)
        batch = torch.from_numpy(rows).to(self.device)  # (B, context + 1)
        return batch[:, :-1], batch[:, 1:]

    def loss_of(self, inputs: Any, targets: Any, forward: Any = None) -> Any:
        import torch

        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device == "cuda")
        model = forward or self.forward
        with autocast:
            logits = model(input_ids=inputs, use_cache=False).logits  # (B, T, V)
        return torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1), targets.flatten(), ignore_index=-100
        )

    def step(self) -> float:
        self.model.train()
        inputs, targets = self._batch()
        return self.optimise(self.loss_of(inputs, targets))

    def optimise(self, loss: Any) -> float:
        """One optimiser step on ``loss`` of the step's ``batch_size`` rows; its value."""
        import torch

        loss.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        self.state.windows += self.config.batch_size
        self.state.tokens += self.config.tokens_per_step
        return float(loss.detach())

    def evaluate(self) -> float:
        """Mean loss (nats/token) on the same held-out windows every time."""
        import torch

        self.model.eval()
        losses = []
        size = self.config.batch_size
        with torch.no_grad():
            for start in range(0, len(self.heldout), size):
                rows = torch.from_numpy(self.heldout[start : start + size]).to(self.device)
                # The plain module: a compiled one would compile again for no_grad.
                losses.append(float(self.loss_of(rows[:, :-1], rows[:, 1:], self.model)))
        return sum(losses) / len(losses)

    def checkpoint(self) -> None:
        state = {
            "windows": self.state.windows,
            "tokens": self.state.tokens,
            "seconds": round(self.state.seconds, 2),
            "heldout_loss": self.state.heldout_loss,
            "schedule": self.state.schedule,
            "config": self.config.fixed(),
            "data_fingerprint": self.data.summary.get("fingerprint"),
        }
        save_checkpoint(
            self.work,
            self.state.step,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            state=state,
            keep=self.config.keep_checkpoints,
        )
        self.export(self)

    def reporter(self) -> ProgressReporter:
        return ProgressReporter(
            total_steps(self.config),
            "pretrain",
            json_lines=self.json_lines,
            initial=self.state.step,
        )

    def matmul_gflops(self) -> float:
        return measure_matmul_gflops(self.device)

    def log(self, record: dict[str, Any]) -> None:
        with (self.work / LOG_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """Keep the log lines up to ``step``: later ones were written after the checkpoint that
    the run resumes from (and a line torn by a kill is dropped too)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if 0 < record.get("step", 0) <= step and line.endswith("\n"):
            kept.append(line)
    path.write_text("".join(kept), encoding="utf-8")
