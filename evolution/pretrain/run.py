"""One invocation of ``evoselfcode pretrain``: prepare the data (or reuse it), then train a
slice of the run (or stop after the data with ``data_only``)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolution.finetune.stopping import StopRequest
from evolution.pretrain.config import PretrainConfig
from evolution.pretrain.data import prepare_data

WORK_DIR = ".work"  # inside the model folder unless --work-dir says otherwise


@dataclass(frozen=True)
class PretrainRequest:
    out: Path
    config: PretrainConfig
    work: Path | None = None
    data_only: bool = False
    restart: bool = False
    json_lines: bool = False
    argv: list[str] = field(default_factory=list)

    @property
    def work_dir(self) -> Path:
        return self.work or self.out / WORK_DIR


def run_pretrain(
    request: PretrainRequest, stop: StopRequest, say: Callable[[str], None]
) -> dict[str, Any]:
    """Data, then one training slice; the result fields (``status`` says how it ended)."""
    from evolution.pretrain.card import Exporter
    from evolution.pretrain.loop import train_until
    from evolution.pretrain.train import Trainer

    started = time.monotonic()
    config, work = request.config, request.work_dir
    if request.restart:
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
    data = prepare_data(config, work, say, workers=config.cpu_threads)
    if request.data_only:
        return {"status": "data-ready", "work_dir": str(work), **_files(data.work), **data.summary}
    exporter = Exporter(request.out, data, config, request.argv)
    trainer = Trainer(config, data, work, request.json_lines, exporter)
    if trainer.resume(say):
        say(f"resuming at step {trainer.state.step:,} ({trainer.state.tokens:,} tokens seen)")
    say(
        f"model: {trainer.params:,} parameters on {trainer.device} "
        f"({config.cpu_threads} threads); {trainer.train_windows.count:,} windows of "
        f"{config.context} tokens"
    )
    # Only training catches SIGINT/SIGTERM (to checkpoint first): data preparation, which
    # publishes its files atomically, ends at once, and its worker processes with it.
    with stop.installed():
        result = train_until(trainer, stop, started)
    return {**result, "out": str(request.out), "work_dir": str(work)}


def _files(work: Path) -> dict[str, Any]:
    from evolution.pretrain.data import HELDOUT_TOKENS, TRAIN_TOKENS

    return {
        "train_tokens_file": str(work / TRAIN_TOKENS),
        "train_tokens_bytes": (work / TRAIN_TOKENS).stat().st_size,
        "heldout_tokens_file": str(work / HELDOUT_TOKENS),
    }
