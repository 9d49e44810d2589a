"""The chat model's folder: weights, tokenizer, pairs manifest, log, facts and a plain card.

Weights are saved in float16 (half the bytes; the runtime loads them as float32 on a CPU with
dtype auto). The facts go in ``evoselfcode-pretrain.json``, the file whose presence makes the
runtime report a model as trained here (``models.loading``, ``ModelInfo.trained_here``): the
status then says plainly that this is a small model trained by EvoSelfCode. Its ``what`` and
``chat_tune`` fields say it is an instruction tune; it has no ``data_manifest.json``, so
``evoselfcode pretrain --init-from`` refuses it (it is no pretraining stage).

The card (README.md) is written from the facts, the examples generated after training and,
once ``bench/chat_quality.py`` has measured the model, its ``chat_quality.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from evolution.pretrain.data import HELDOUT_LIST
from evolution.pretrain.init_from import TOKENIZER_FILES
from evolution.pretrain.train import LOG_FILE
from models.loading import quiet_weight_loading
from models.smoke import TRAINED_HERE_MARKER as MARKER

PAIRS_FILE = "pairs.json"
EXAMPLES_FILE = "examples.json"
QUALITY_FILE = "chat_quality.json"


class ChatExporter:
    """Writes the model folder ``out`` from a trainer (called after every checkpoint)."""

    def __init__(self, out: Path, base: Path, facts: dict[str, Any], pairs: dict[str, Any]):
        self.out, self.base, self.facts, self.pairs = out, base, facts, pairs

    def __call__(self, trainer: Any) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        for stale in self.out.glob(".export-*"):  # left by a kill -9 mid-export
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=self.out, prefix=".export-") as staging:
            folder = Path(staging)
            _save_weights(trainer.model, folder)
            for name in (*TOKENIZER_FILES, HELDOUT_LIST):
                if (self.base / name).is_file():
                    shutil.copy(self.base / name, folder / name)
            if (trainer.work / LOG_FILE).is_file():
                shutil.copy(trainer.work / LOG_FILE, folder / LOG_FILE)
            (folder / PAIRS_FILE).write_text(json.dumps(self.pairs, indent=1) + "\n", "utf-8")
            facts = self.run_facts(trainer)
            (folder / MARKER).write_text(json.dumps(facts, indent=1) + "\n", encoding="utf-8")
            for item in folder.iterdir():  # one rename per file: never a half-written file
                os.replace(item, self.out / item.name)
        write_card(self.out)

    def run_facts(self, trainer: Any) -> dict[str, Any]:
        state = trainer.state
        return {
            **self.facts,
            "parameters": trainer.params,
            "weights_dtype": "float16",
            "step": state.step,
            "total_steps": len(trainer.plan),
            "tokens_seen": state.tokens,
            "train_seconds": round(state.seconds, 1),
            "heldout_answer_loss": state.heldout_loss,
            "train_loss": state.loss,
        }


def _save_weights(model: Any, folder: Path) -> None:
    import torch

    state = {k: v.detach().to("cpu", torch.float16) for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)  # the embedding, saved once
    attention = model.config._attn_implementation
    model.config.dtype = torch.float16  # what the file holds; restored below
    model.config._attn_implementation = "sdpa"  # the training kernel is not the serving one
    try:
        with quiet_weight_loading():
            model.save_pretrained(folder, state_dict=state)
    finally:
        model.config.dtype = torch.float32
        model.config._attn_implementation = attention
    for path in folder.iterdir():
        path.chmod(0o644)  # save_pretrained writes some files private


def write_examples(out: Path, examples: list[dict[str, str]]) -> None:
    (out / EXAMPLES_FILE).write_text(json.dumps(examples, indent=1) + "\n", encoding="utf-8")
    write_card(out)


def write_quality(out: Path, quality: dict[str, Any]) -> None:
    (out / QUALITY_FILE).write_text(json.dumps(quality, indent=1) + "\n", encoding="utf-8")
    write_card(out)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_card(out: Path) -> None:
    facts = _read(out / MARKER)
    if facts is not None:
        card = model_card(facts, _read(out / EXAMPLES_FILE), _read(out / QUALITY_FILE))
        (out / "README.md").write_text(card, encoding="utf-8")


def model_card(facts: dict[str, Any], examples: Any, quality: Any) -> str:
    tune, data = facts["chat_tune"], facts["chat_tune"]["data"]
    loss = facts.get("heldout_answer_loss")
    base_loss = facts.get("base_heldout_answer_loss")
    progress = (
        f"{facts['step']:,} of {facts['total_steps']:,} steps"
        if facts["step"] < facts["total_steps"]
        else f"{facts['step']:,} steps"
    )
    rows = {
        "base": f"`{tune['base']}` ({facts['base']['tokens_seen']:,} pretraining tokens)",
        "pairs": f"{data['train_examples']:,} docstring → function pairs trained on "
        f"({data['train_too_long']:,} longer than {data['context']} tokens dropped), "
        f"{tune['epochs']} epochs",
        "answer tokens": f"{data['train_answer_tokens']:,} of {data['train_tokens']:,} tokens "
        "a pass (the loss is on the answers and `<|im_end|>` only)",
        "training": f"{progress}, {facts['tokens_seen']:,} row positions, "
        f"{facts['train_seconds'] / 60:.1f} minutes on {tune['threads']} CPU thread(s)",
        "held-out answer loss": (f"{loss:.3f} nats/token" if loss is not None else "not yet")
        + f" on {min(64, data['heldout_examples'])} pairs of the held-out files"
        + (f" (the base model: {base_loss:.3f})" if base_loss is not None else ""),
        "weights": "float16 safetensors (loaded as float32 on a CPU)",
        "seed": str(facts["seed"]),
    }
    table = "\n".join(f"| {name} | {value} |" for name, value in rows.items())
    low, high = tune["body_lines"]
    return f"""# A small instruction tune of the small model trained on this machine

`{tune["base"]}` ({facts["parameters"]:,} parameters, trained from scratch here by `evoselfcode
pretrain`) fine-tuned in full by `evoselfcode chat-tune` to answer an instruction with a Python
function, in ChatML, as **Generate code from this instruction** asks. It is a **small model
trained here**, nowhere near Qwen2.5-Coder-Instruct: it writes plausible-looking Python that is
usually wrong (measured below). It answers with code only: it does not explain, converse or
follow up sensibly, does not check its code, and knows no library beyond the names it saw in
this machine's source.

| | |
|---|---|
{table}

## What it was trained on

Every function with a docstring and a body of {low}–{high} lines (module-level or a method), cut
with `ast` from the files `{tune["base"]}` trained on (its `data_manifest.json`, found unchanged
here by SHA-256), deduplicated by code and by docstring. The instruction is
``Write a Python function `def name(args):` ``, a blank line and the docstring (for a quarter
of the pairs, the docstring alone); the answer is the function without its docstring and
decorators, as plain code (the server takes a fenced block if there is one, else the whole
answer). The system prompt is the one the server sends by default:
"{data["system_prompt"]}". Pairs from the base model's held-out files (`heldout.json`,
{data["heldout_pairs"]:,} pairs) are never trained on: they are the evaluation set.
`pairs.json` lists the source files with their SHA-256 and how many pairs each gave.

{_quality(quality)}
{_examples(examples)}
## Reproduce

```
{facts["command"]}
```

The same command resumes after a stop (checkpoints in `.work/`, not part of the model). With
the same Python packages installed it finds the same files, pairs and order; floating-point
sums differ between thread counts and devices, so the weights match closely, not bit for bit.
`train_log.jsonl` has the loss, held-out answer loss, tokens/s (row positions, padding
included) and learning rate every 10 steps; `evoselfcode-pretrain.json` has these facts, every
setting, and the base model's own facts (its presence is what makes the status say "trained
here").
"""


def _quality(quality: Any) -> str:
    if not quality:
        return "## How well it answers\n\nNot measured yet: run `bench/chat_quality.py`.\n"
    base, chat = quality["base"], quality["chat"]
    parse, similarity = quality["parses"], quality["body_similarity"]
    lines = [
        "## How well it answers",
        "",
        f"`bench/chat_quality.py` on {quality['pairs']} pairs of the held-out files, greedy, "
        f"at most {quality['max_new_tokens']} new tokens, the base model asked the same ChatML "
        "way:",
        "",
        "| | base | chat |",
        "|---|---|---|",
        f"| answer holds a function that parses | {base['parses']:.1%} | {chat['parses']:.1%} |",
        f"| edit similarity of the body to the real one | {base['body_similarity']:.3f} | "
        f"{chat['body_similarity']:.3f} |",
        f"| stops by itself (`<|im_end|>`) | {base['stopped']:.1%} | {chat['stopped']:.1%} |",
    ]
    if quality.get("humaneval"):
        he = quality["humaneval"]
        lines.append(
            f"| HumanEval pass@1 ({he['tasks']} tasks) | {he['base']:.1%} | {he['chat']:.1%} |"
        )
    lines += [
        "",
        f"Parses: {100 * parse['difference']:+.1f} points (95% "
        f"{100 * parse['difference_interval'][0]:+.1f} to "
        f"{100 * parse['difference_interval'][1]:+.1f}), exact McNemar p = {parse['p_value']:.2g}. "
        f"Body similarity: {similarity['difference']:+.3f} (95% "
        f"{similarity['difference_interval'][0]:+.3f} to "
        f"{similarity['difference_interval'][1]:+.3f}), Wilcoxon p = "
        f"{similarity['p_value']:.2g}.",
        "",
    ]
    return "\n".join(lines)


def _examples(examples: Any) -> str:
    if not examples:
        return ""
    parts = [
        "## Examples",
        "",
        "Not picked: the first two held-out pairs and one request of its own, greedy, through "
        "the runtime the server uses (the server samples at `evoselfcode.chat.temperature`, "
        "0.2 by default).",
        "",
    ]
    for example in examples:
        parts += [
            f"**{example['title']}**",
            "",
            "```text",
            example["instruction"],
            "```",
            "",
            "```python",
            example["answer"].rstrip("\n"),
            "```",
            "",
        ]
    return "\n".join(parts)
