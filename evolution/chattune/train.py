"""The instruction tune's data and trainer: chat turns packed in rows, the pretraining loop.

Each pair is rendered by ``evolution.finetune.formatting.ExampleRenderer.chat``, the renderer
``evoselfcode finetune`` uses: ``[system, user]`` through the tokenizer's chat template with the
generation prompt, exactly as the model runtime's ``chat`` renders what "Generate code from
this instruction" sends (same system prompt), then the answer and ``<|im_end|>``; labels are
-100 on the prompt, so the loss is on the assistant tokens only (``<|im_end|>`` included: the
model learns to stop). Examples longer than the context are dropped and counted, never cut.

Examples are packed into rows of ``context`` tokens (``evolution.finetune.batching``: best-fit
per epoch in a seeded order, position ids restarting at each example) and every row is padded
to ``context``: a step is ``batch_size`` rows, always the same number of positions, so the
pretraining loop's token counts, tokens/s and cosine schedule hold unchanged. Attention stays
within each example (``evolution.finetune.packed_attention``).

:class:`ChatTrainer` is the pretraining ``Trainer`` with another step and evaluation: the same
optimiser, warm-up + cosine schedule, checkpoints, resume checks and log, driven by the same
``evolution.pretrain.loop.train_until``. The run's settings live in a ``PretrainConfig`` whose
shape is the base model's and whose ``init_from`` is the base folder.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolution.finetune.batching import build_plan, collate
from evolution.finetune.formatting import IGNORE_INDEX, Example, ExampleRenderer
from evolution.finetune.records import TrainingPair
from evolution.pretrain.config import PretrainConfig, PretrainError
from evolution.pretrain.init_from import load_weights
from evolution.pretrain.model import build_model, flops_per_token, parameter_count
from evolution.pretrain.train import RunState, Trainer, choose_device, make_optimizer
from models.progress import ProgressReporter

# Held-out examples whose answer loss is measured at every evaluation (the same ones each time).
EVAL_EXAMPLES = 64
# At most this many examples share a row (a row of tiny examples is still one row).
MAX_PER_ROW = 32


@dataclass
class ChatData:
    """Rendered examples; ``summary`` (with the ``fingerprint`` a resume checks) is reported."""

    train: list[Example]
    heldout: list[Example]
    summary: dict[str, Any] = field(default_factory=dict)


def render(
    tokenizer: Any,
    system_prompt: str,
    train: Sequence[TrainingPair],
    heldout: Sequence[TrainingPair],
    context: int,
) -> ChatData:
    """Chat examples of both splits; those longer than ``context`` tokens are dropped."""
    renderer = ExampleRenderer(tokenizer, system_prompt)
    summary: dict[str, Any] = {"system_prompt": system_prompt, "context": context}
    kept: dict[str, list[Example]] = {}
    for name, pairs in (("train", train), ("heldout", heldout)):
        examples = [renderer.chat(p) for p in pairs]
        fitting = [e for e in examples if len(e) <= context]
        kept[name] = fitting
        summary[f"{name}_pairs"] = len(pairs)
        summary[f"{name}_examples"] = len(fitting)
        summary[f"{name}_too_long"] = len(examples) - len(fitting)
        summary[f"{name}_tokens"] = sum(len(e) for e in fitting)
        summary[f"{name}_answer_tokens"] = sum(e.target_tokens for e in fitting)
    if not kept["train"]:
        raise PretrainError(f"no training pair fits in the context of {context} tokens")
    if not kept["heldout"]:
        raise PretrainError(f"no held-out pair fits in the context of {context} tokens")
    digest = hashlib.sha256()
    for example in kept["train"] + kept["heldout"]:
        digest.update(json.dumps([example.input_ids, example.labels]).encode())
    summary["fingerprint"] = digest.hexdigest()
    return ChatData(kept["train"], kept["heldout"], summary)


def plan_steps(data: ChatData, epochs: float, batch_size: int, context: int, seed: int) -> Any:
    """Every step's rows: ``batch_size`` packed rows a step, over ``epochs`` passes."""
    return build_plan(
        data.train,
        epochs=epochs,
        batch_size=MAX_PER_ROW,  # examples per row; a step is ``gradient_accumulation`` rows
        gradient_accumulation=batch_size,
        max_length=context,
        packing=True,
        seed=seed,
    )


def run_config(base_config: dict[str, Any], steps: int, **settings: Any) -> PretrainConfig:
    """The run's ``PretrainConfig``: the base model's shape, tokenizer and held-out split, the
    tune's optimisation and run settings, and a run length of exactly ``steps`` steps."""
    import dataclasses

    # The base run's run settings (its budget, threads, device) are not the tune's.
    names = {f.name for f in dataclasses.fields(PretrainConfig) if f.metadata["group"] != "run"}
    kept = {k: v for k, v in base_config.items() if k in names}
    config = PretrainConfig(**{**kept, **settings})
    return PretrainConfig(**{**config.to_dict(), "tokens": steps * config.tokens_per_step})


class ChatTrainer(Trainer):
    """The pretraining trainer on packed chat rows (loss on the answers only)."""

    def __init__(
        self,
        config: PretrainConfig,
        data: ChatData,
        plan: Any,
        vocab: dict[str, int],
        work: Path,
        json_lines: bool,
        export: Any,
    ) -> None:
        import torch

        from evolution.finetune.packed_attention import register as packed_attention

        self.config, self.data, self.work, self.export = config, data, work, export  # type: ignore[assignment]
        self.plan = plan
        self.device = choose_device(config)
        torch.manual_seed(config.seed)
        self.model = build_model(config, vocab)
        load_weights(self.model, config)  # the base model (a checkpoint, if any, comes after)
        self.model.set_attn_implementation(packed_attention())
        self.model = self.model.to(self.device)
        self.forward = self.model
        self.optimizer, self.scheduler = make_optimizer(self.model, config)
        self.pad_id = vocab["<|endoftext|>"]
        picked = random.Random(config.seed).sample(
            range(len(data.heldout)), min(EVAL_EXAMPLES, len(data.heldout))
        )
        self.eval_rows = [[i] for i in sorted(picked)]
        self.params = parameter_count(self.model)
        self.flops_per_token = flops_per_token(self.params, config)
        self.json_lines = json_lines
        self.state = RunState()
        self.state.follow(config.tokens)

    def _rows(self, examples: Sequence[Example], rows: list[list[int]]) -> dict[str, Any]:
        """Tensors of ``rows``, every row padded to the context (the pad is its own sequence)."""
        import torch

        batch = collate(examples, rows, self.pad_id, packing=True)
        width = batch["input_ids"].shape[1]
        pad = self.config.context - width
        if pad > 0:
            count = len(rows)
            batch["input_ids"] = torch.cat(
                [batch["input_ids"], torch.full((count, pad), self.pad_id)], dim=1
            )
            batch["labels"] = torch.cat(
                [batch["labels"], torch.full((count, pad), IGNORE_INDEX)], dim=1
            )
            tail = torch.arange(pad).expand(count, pad)
            batch["position_ids"] = torch.cat([batch["position_ids"], tail], dim=1)
        return batch

    def _loss(self, batch: dict[str, Any], summed: bool = False) -> Any:
        """Cross-entropy of the next token where it is labelled (mean, or sum with the count)."""
        import torch

        ids = batch["input_ids"].to(self.device)  # (rows, context)
        labels = batch["labels"].to(self.device)  # (rows, context): -100 outside answers
        positions = batch["position_ids"].to(self.device)
        logits = self.forward(input_ids=ids, position_ids=positions, use_cache=False).logits
        targets = labels[:, 1:]  # token t+1 is predicted at position t
        flat = logits[:, :-1].float().flatten(0, 1)  # (rows * (context - 1), vocab)
        reduction = "sum" if summed else "mean"
        return torch.nn.functional.cross_entropy(
            flat, targets.flatten(), ignore_index=IGNORE_INDEX, reduction=reduction
        ), int((targets != IGNORE_INDEX).sum())

    def step(self) -> float:
        self.model.train()
        rows = [row for micro in self.plan.steps[self.state.step] for row in micro]
        loss, _ = self._loss(self._rows(self.data.train, rows))
        return self.optimise(loss)

    def evaluate(self) -> float:
        """Mean answer loss (nats per answer token) on the same held-out examples every time."""
        import torch

        self.model.eval()
        total, count = 0.0, 0
        size = self.config.batch_size
        with torch.no_grad():
            for start in range(0, len(self.eval_rows), size):
                batch = self._rows(self.data.heldout, self.eval_rows[start : start + size])
                loss, labelled = self._loss(batch, summed=True)
                total, count = total + float(loss), count + labelled
        return total / max(count, 1)

    def reporter(self) -> ProgressReporter:
        return ProgressReporter(
            len(self.plan), "chat-tune", json_lines=self.json_lines, initial=self.state.step
        )
