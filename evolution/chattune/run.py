"""One invocation of ``evoselfcode chat-tune``: pairs, examples, then a slice of training.

A stop (SIGINT/SIGTERM, ``--max-minutes``, ``--max-tokens``) checkpoints; the same command
continues. When the run is done, the finished folder is loaded through the model runtime, as
the server loads it, and answers a few instructions for the card.
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolution.chattune.pairs import (
    MAX_BODY_LINES,
    MIN_BODY_LINES,
    NO_SIGNATURE_SHARE,
    FunctionPair,
    PairSet,
    manifest,
    model_pairs,
    sample,
)
from evolution.finetune.stopping import StopRequest
from evolution.pretrain.config import ConfigError
from models.smoke import TRAINED_HERE_MARKER

WORK_DIR = ".work"
BASE_EVAL = "base_eval.json"  # in the work folder: the base model's held-out answer loss
# A request that is not a docstring of the corpus: what a user might write as a comment.
FREE_INSTRUCTION = "Return the n-th Fibonacci number."


@dataclass(frozen=True)
class ChatTuneRequest:
    out: Path
    base: Path
    pairs: int = 0  # training pairs (0: all)
    epochs: float = 1.0
    settings: dict[str, Any] = field(default_factory=dict)  # PretrainConfig fields
    work: Path | None = None
    restart: bool = False
    json_lines: bool = False
    argv: list[str] = field(default_factory=list)

    @property
    def work_dir(self) -> Path:
        return self.work or self.out / WORK_DIR


def base_facts(base: Path) -> dict[str, Any]:
    try:
        facts = json.loads((base / TRAINED_HERE_MARKER).read_text(encoding="utf-8"))
        if not isinstance(facts["config"], dict):  # the shape and tokenizer settings
            raise ValueError("its config is not an object")
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"--from {base}: not a model folder made by `evoselfcode pretrain` ({exc})"
        ) from exc
    if "chat_tune" in facts:
        raise ConfigError(f"--from {base} is a chat tune already: tune the base model")
    return facts


def run_chat_tune(
    request: ChatTuneRequest,
    stop: StopRequest,
    say: Callable[[str], None],
    pairs: PairSet | None = None,
) -> dict[str, Any]:
    """Pairs (from the base folder's files unless given), then one training slice."""
    from transformers import AutoTokenizer

    from evolution.chattune.export import ChatExporter
    from evolution.chattune.train import ChatTrainer, plan_steps, render, run_config
    from evolution.finetune.config import QWEN_DEFAULT_SYSTEM_PROMPT
    from evolution.pretrain.loop import train_until

    started = time.monotonic()
    base, work = request.base, request.work_dir
    facts = base_facts(base)
    seed = int(request.settings.get("seed", 0))
    found: dict[str, Any] = {}
    if pairs is None:
        say(f"pairs: reading the files {base} trained on and held out")
        pairs, found = model_pairs(base)
    chosen = sample(pairs.train, request.pairs, seed)
    say(
        f"pairs: {len(pairs.train):,} from training files ({len(chosen):,} used), "
        f"{len(pairs.heldout):,} from held-out files (evaluation only)"
    )
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    context = int(facts["config"]["context"])
    data = render(
        tokenizer,
        QWEN_DEFAULT_SYSTEM_PROMPT,
        [p.training_pair(seed) for p in chosen],
        [p.eval_pair() for p in pairs.heldout],
        context,
    )
    batch_size = int(request.settings.get("batch_size", 8))
    plan = plan_steps(data, request.epochs, batch_size, context, seed)
    config = run_config(facts["config"], len(plan), init_from=str(base), **request.settings)
    if request.restart:
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    run_facts = {
        "what": "a small instruction tune (`evoselfcode chat-tune`: docstring → function "
        f"pairs, full fine-tune) of {base.name}, the small base model trained from scratch on "
        "this machine's Python source by `evoselfcode pretrain`",
        "random_weights": False,
        "command": shlex.join(["evoselfcode", *request.argv]),
        "argv": request.argv,
        "seed": seed,
        "config": config.to_dict(),
        "chat_tune": {
            "base": str(base),
            "pairs_requested": request.pairs,
            "epochs": request.epochs,
            "threads": config.cpu_threads,
            "body_lines": [MIN_BODY_LINES, MAX_BODY_LINES],
            "no_signature_share": NO_SIGNATURE_SHARE,
            "files_found": found,
            "pairs_skipped": dict(pairs.skipped),
            "data": data.summary,
        },
        "base": {k: facts.get(k) for k in ("what", "commands", "tokens_seen", "heldout_loss")},
    }
    exporter = ChatExporter(request.out, base, run_facts, pairs_manifest(base, chosen, pairs))
    trainer = ChatTrainer(
        config, data, plan, tokenizer.get_vocab(), work, request.json_lines, exporter
    )
    run_facts["base_heldout_answer_loss"] = base_answer_loss(trainer, work, say)
    if trainer.resume(say):
        say(f"resuming at step {trainer.state.step:,} of {len(plan):,}")
    say(
        f"model: {trainer.params:,} parameters on {trainer.device} ({config.cpu_threads} "
        f"threads); {len(data.train):,} examples ({data.summary['train_answer_tokens']:,} answer "
        f"tokens) in {plan.micro_batches_per_epoch:,} rows of {context} a pass, {len(plan):,} "
        f"steps of {config.batch_size} rows"
    )
    with stop.installed():
        result = train_until(trainer, stop, started)
    if result["status"] == "done":
        say("examples: loading the finished model as the server does")
        show_examples(request.out, pairs.heldout)
    return {**result, "out": str(request.out), "work_dir": str(work)}


def base_answer_loss(trainer: Any, work: Path, say: Callable[[str], None]) -> float:
    """The base model's held-out answer loss (the trainer's evaluation before any step and
    before a checkpoint is loaded), measured once per work folder."""
    path = work / BASE_EVAL
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["heldout_answer_loss"])
    except (OSError, ValueError, KeyError):
        pass
    loss = trainer.evaluate()
    say(f"the base model's held-out answer loss: {loss:.4f} nats/token")
    path.write_text(json.dumps({"heldout_answer_loss": loss}) + "\n", encoding="utf-8")
    return loss


def pairs_manifest(base: Path, chosen: list[FunctionPair], pairs: PairSet) -> dict[str, Any]:
    from evolution.pretrain.data import HELDOUT_LIST, MANIFEST

    hashes: dict[str, str] = {}
    for listing in (MANIFEST, HELDOUT_LIST):
        try:
            rows = json.loads((base / listing).read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError):
            continue
        hashes.update({row[0]: row[1] for row in rows})
    return {
        "train": manifest(chosen, hashes),
        "heldout": manifest(pairs.heldout, hashes),
        "skipped": dict(pairs.skipped),
    }


def show_examples(out: Path, heldout: list[FunctionPair], count: int = 2) -> list[dict[str, str]]:
    """Greedy answers of the finished model (loaded by the runtime) to the first held-out
    instructions and to one free-form request; written to the card."""
    from evolution.chattune.export import write_examples
    from evolution.finetune.config import QWEN_DEFAULT_SYSTEM_PROMPT
    from models import SamplingParams, load_model

    asks = [("held-out pair: " + p.qualname, p.instruction()) for p in heldout[:count]]
    asks.append(("a request of its own (no signature given)", FREE_INSTRUCTION))
    model = load_model(out, device="cpu")
    examples = []
    try:
        params = SamplingParams(max_new_tokens=200, temperature=0.0)
        for title, instruction in asks:
            answer = model.chat(
                [{"role": "user", "content": instruction}],
                params,
                system_prompt=QWEN_DEFAULT_SYSTEM_PROMPT,
            )
            examples.append({"title": title, "instruction": instruction, "answer": answer.text})
    finally:
        model.close()
    write_examples(out, examples)
    return examples
