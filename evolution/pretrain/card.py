"""The model folder: weights, tokenizer, the data manifest, the log, and a card that says what
this is. Refreshed after every checkpoint, so it always holds the newest weights.

Weights are saved in float32 when that fits in ``MAX_WEIGHT_BYTES`` (the size the repository
ships), else in bfloat16; the runtime loads either as float32 on a CPU (dtype auto).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from evolution.pretrain.config import PretrainConfig
from evolution.pretrain.data import DATA_STATE, HELDOUT_LIST, MANIFEST, PreparedData
from evolution.pretrain.init_from import TOKENIZER_FILES, init_facts
from evolution.pretrain.train import LOG_FILE, Trainer
from models.loading import quiet_weight_loading
from models.smoke import TRAINED_HERE_MARKER as MARKER

MAX_WEIGHT_BYTES = 30 * 1000 * 1000


def commands_of(
    out: Path, config: PretrainConfig, schedule: list[dict[str, Any]], step: int
) -> list[str]:
    """The commands that reproduce this model, run one after the other: every data, model and
    optimisation setting that is not the default, one command per stretch of the run that had
    its own run length (``--tokens``), each with a budget of the tokens that stretch trained
    on where it stopped before the run's end. Run settings (threads, device, evaluation and
    checkpoint frequency) do not change what is learned beyond floating-point rounding, so they
    are left out."""
    words = ["evoselfcode", "pretrain", str(out)]
    defaults = PretrainConfig()
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.metadata["group"] == "run" or f.name == "tokens" or value == getattr(defaults, f.name):
            continue
        flag = f.name.replace("_", "-")
        if isinstance(value, bool):
            words.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            words += [f"--{flag}", str(value)]
    commands = []
    ends = [s["from_step"] for s in schedule[1:]] + [step]
    for stretch, end in zip(schedule, ends, strict=True):
        tokens = stretch["tokens"]
        length = ["--tokens", str(tokens) if tokens is not None else "UNRECORDED"]
        budget = (end - stretch["from_step"]) * config.tokens_per_step
        total = tokens if tokens is not None else 0
        stop = ["--max-tokens", str(budget)] if end * config.tokens_per_step < total else []
        commands.append(shlex.join([*words, *length, *stop]))
    return commands


class Exporter:
    """Writes the model folder ``out`` from a trainer (called after every checkpoint)."""

    def __init__(self, out: Path, data: PreparedData, config: PretrainConfig, argv: list[str]):
        self.out, self.data, self.config, self.argv = out, data, config, argv

    def __call__(self, trainer: Trainer) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        for stale in self.out.glob(".export-*"):  # left by a kill -9 mid-export
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=self.out, prefix=".export-") as staging:
            folder = Path(staging)
            dtype = self._save_weights(trainer, folder)
            for name in TOKENIZER_FILES:
                if (self.data.tokenizer_dir / name).is_file():
                    shutil.copy(self.data.tokenizer_dir / name, folder / name)
            for name in (MANIFEST, HELDOUT_LIST):
                shutil.copy(self.data.work / name, folder / name)
            if (trainer.work / LOG_FILE).is_file():
                shutil.copy(trainer.work / LOG_FILE, folder / LOG_FILE)
            facts = self.facts(trainer, dtype)
            (folder / MARKER).write_text(json.dumps(facts, indent=1) + "\n", encoding="utf-8")
            (folder / "README.md").write_text(model_card(facts), encoding="utf-8")
            for item in folder.iterdir():  # one rename per file: never a half-written file
                os.replace(item, self.out / item.name)

    def _save_weights(self, trainer: Trainer, folder: Path) -> str:
        import torch

        model = trainer.model
        fp32_bytes = trainer.params * 4
        dtype = torch.float32 if fp32_bytes <= MAX_WEIGHT_BYTES else torch.bfloat16
        state = {k: v.detach().to("cpu", dtype) for k, v in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)  # the embedding, saved once
        model.config.dtype = dtype  # what the file holds; restored below
        try:
            with quiet_weight_loading():  # no "Writing model shards" bar in the log
                model.save_pretrained(folder, state_dict=state)
        finally:
            model.config.dtype = torch.float32
        for path in folder.iterdir():
            path.chmod(0o644)  # save_pretrained writes some files private
        return str(dtype).removeprefix("torch.")

    def facts(self, trainer: Trainer, dtype: str) -> dict[str, Any]:
        state, summary = trainer.state, self.data.summary
        commands = commands_of(self.out, self.config, state.schedule, state.step)
        before = init_facts(self.config) if self.config.init_from else None
        return {
            "what": "a small Qwen2-architecture base model trained from scratch on this "
            "machine's Python source by `evoselfcode pretrain`",
            "random_weights": False,
            "commands": [*before["commands"], *commands] if before else commands,
            "init_from": before,
            "schedule": state.schedule,
            "argv": self.argv,
            "seed": self.config.seed,
            "config": self.config.to_dict(),
            "parameters": trainer.params,
            "weights_dtype": dtype,
            "step": state.step,
            "tokens_seen": state.tokens + (before["tokens_seen"] if before else 0),
            "train_seconds": round(state.seconds + (before["train_seconds"] if before else 0), 1),
            "heldout_loss": state.heldout_loss,
            "train_loss": state.loss,
            "data": summary,
            "data_state": DATA_STATE,
        }


def model_card(facts: dict[str, Any]) -> str:
    config, data = facts["config"], facts["data"]
    commands = "\n".join(facts["commands"])
    stretches = (
        "These commands run one after the other: the run's length (`--tokens`, which shapes "
        "the cosine learning-rate schedule) was changed on resume"
        + (
            ", and the commands with `--init-from` continue the model the ones before them "
            "made, on new samples (its weights and tokenizer, a fresh optimiser and schedule).\n"
            if facts.get("init_from")
            else ".\n"
        )
        if len(facts["commands"]) > 1
        else ""
    )
    heldout = facts["heldout_loss"]
    steps = f"{facts['step']:,} steps"
    if facts.get("init_from"):
        steps = f"the last run: {steps}, logged in `train_log.jsonl`"
    shape = (
        f"hidden {config['hidden_size']}, {config['layers']} layers, {config['heads']} heads "
        f"({config['kv_heads']} key/value), MLP {config['intermediate_size']}, vocabulary "
        f"{config['vocab_size']}, context {config['context']}, tied embeddings"
    )
    return f"""# A small code model trained on this machine

A Qwen2-architecture **base** model with {facts["parameters"]:,} parameters, trained from
scratch by `evoselfcode pretrain` on the Python source found on the machine that made it (the
interpreter's standard library and installed pure-Python packages). It speaks Qwen2.5-Coder's
formats — file-level fill-in-the-middle, repo-level context, the ChatML template — so every
part of EvoSelfCode runs on it unchanged. It is good enough to show and measure the loop, and
**nowhere near Qwen2.5-Coder**: expect plausible-looking Python, often wrong.

| | |
|---|---|
| shape | {shape} |
| weights | {facts["weights_dtype"]} safetensors (loaded as float32 on a CPU) |
| tokens seen | {facts["tokens_seen"]:,} ({steps}) |
| held-out loss | {f"{heldout:.3f} nats/token" if heldout is not None else "not measured yet"} |
| training time | {facts["train_seconds"] / 3600:.2f} hours |
| seed | {facts["seed"]} |

## Data

{data["train_files"]:,} files ({data["train_bytes"] / 1e6:.1f} MB) trained on, giving
{data["train_tokens"]:,} tokens of samples: {data["fim_share"]:.0%} fill-in-the-middle (PSM),
{data["repo_share"]:.0%} repo-level, the rest left to right. {data["heldout_files"]:,} files
({data["heldout_bytes"] / 1e6:.1f} MB) are held out by path and never trained on
(`heldout.json`); {data["excluded_files"]:,} files ({data["excluded_bytes"] / 1e6:.1f} MB) were
left out, each class with its reason, in `data_manifest.json`, which also lists every training
file with its SHA-256.

## Reproduce

```
{commands}
```

{stretches}The same command resumes after a stop; with the same Python packages installed it
rebuilds the same corpus, tokenizer and samples, and the same initial weights and data order.
Floating-point sums differ between thread counts and devices, so the weights match closely,
not bit for bit.
`train_log.jsonl` has the loss, held-out loss, tokens/s and learning rate of every 10 steps;
`evoselfcode-pretrain.json` has these facts and every setting. A `.work/` folder beside these
files, where there is one, holds the checkpoints and token files for resuming: it is not part of
the model.
"""
