"""Synthetic training data for the fine-tuning tests (imported by conftest and tests)."""

from __future__ import annotations

import io
import json
from pathlib import Path

OPERATIONS = (
    ("add", "+", "sum"),
    ("subtract", "-", "difference"),
    ("multiply", "*", "product"),
    ("power", "**", "power"),
)


def synthetic_pairs(count: int, *, body_lines: int = 1) -> list[dict[str, str]]:
    """Distinct small (instruction, code) pairs; ``body_lines`` makes the code longer."""
    pairs = []
    for i in range(count):
        name, op, noun = OPERATIONS[i % len(OPERATIONS)]
        extra = "".join(f"    step_{k} = a {op} {k}\n" for k in range(body_lines - 1))
        pairs.append(
            {
                "instruct": f"Write {name}_{i}(a, b) returning the {noun} of a and b.",
                "code": f"def {name}_{i}(a, b):\n{extra}    return a {op} b\n",
            }
        )
    return pairs


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class StopAt(io.StringIO):
    """A progress stream that requests a stop once training reports step ``step``."""

    def __init__(self, stop, step: int) -> None:
        super().__init__()
        self.stop, self.step = stop, step

    def write(self, text: str) -> int:
        for line in text.splitlines():
            event = json.loads(line)
            if event.get("phase") == "train" and event.get("step") == self.step:
                self.stop.request()
        return super().write(text)


def train_in_process(config, rows, run_dir: Path, *, stream=None, stop=None, resume=False):
    """Prepare data, load the smoke model with LoRA and train; returns (trainer, outcome)."""
    from evolution.finetune.dataset import prepare_data
    from evolution.finetune.events import RunEvents
    from evolution.finetune.modeling import cpu_threads, load_for_training
    from evolution.finetune.records import TrainingPair, split_heldout
    from evolution.finetune.trainer import Trainer

    pairs = [TrainingPair.of(r["instruct"], r["code"]) for r in rows]
    with cpu_threads(config.threads):
        loaded = load_for_training(config)
        data = prepare_data(*split_heldout(pairs, config.eval_share), loaded.tokenizer, config)
        events = RunEvents(json_lines=True, stream=stream or io.StringIO())
        trainer = Trainer(loaded, data, config, run_dir, events, stop)
        outcome = trainer.train(resume=resume)
    return trainer, outcome


def progress_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


TARGETS = ["q_proj", "v_proj", "down_proj"]  # random_adapter's: attention and MLP both


def random_adapter(base_dir: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter for the model in ``base_dir`` saved as peft saves one, with random
    weights that change the model's output (peft starts lora_B at zero: a no-op)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    peft_model.save_pretrained(str(out))
    return out
