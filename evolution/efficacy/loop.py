"""The efficacy loop's commands, run in a work folder; each command's output is kept there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HELDOUT = "composed-heldout"
INFILL = "humaneval-infill"
# (label, --gates policy, description)
ARMS = (("a", "none", "no gates"), ("b", "syntax", "syntax gate only"), ("c", "all", "all gates"))


class EfficacyError(RuntimeError):
    """A command of the loop failed; the message holds the end of its output."""


@dataclass(frozen=True)
class Sizes:
    train_tasks: int | None  # None: the whole split
    heldout_tasks: int | None
    infill_tasks: int
    epochs: float | None  # None: evoselfcode finetune's default
    max_new_tokens: int  # held-out answers: a whole function (at most 107 tokens with the
    # small model's tokenizer), docstring included


# The bench: every training task (584), every held-out task (211), finetune's default epochs,
# 200 infill tasks: 12 minutes on the idle 2-core CPU (93 minutes while other torch jobs shared
# its cores: their threads spin against each other).
FULL = Sizes(None, None, 200, None, 160)
# Does everything run? A few tasks, one epoch.
QUICK = Sizes(40, 16, 12, 1.0, 96)
# The demo (``evoselfcode demo --efficacy-tasks N``: N training tasks, N/3 held out): enough
# training tasks to teach something in a few minutes; no infill.
DEMO = Sizes(120, 40, 0, 2.0, 160)


@dataclass
class Scored:
    """One evaluation: per-task pass (greedy, one sample) and its summary."""

    name: str
    passed: dict[str, bool]
    summary: dict[str, Any]

    @property
    def rate(self) -> float:
        return sum(self.passed.values()) / max(1, len(self.passed))


@dataclass
class StoreContents:
    records: int
    correct: int  # records whose code the stand-in planned as correct
    summary: dict[str, Any]  # evoselfcode evolve's result line


@dataclass
class Outcome:
    """Everything one run measured."""

    standin: Any  # evolution.testserver.standin.StandIn
    sizes: Sizes
    stores: dict[str, StoreContents]  # by arm label
    scores: dict[str, Scored]  # "base" and each arm label, on the held-out split
    infill: dict[str, Scored]  # "base" and "c", when infill_tasks > 0


class Loop:
    """Runs the commands of one run in ``work``; ``say`` hears each step as it ends."""

    def __init__(
        self,
        work: Path,
        model: str,
        sizes: Sizes,
        finetune_flags: tuple[str, ...] = (),
        say: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    ) -> None:
        self.work, self.model, self.sizes = work, model, sizes
        self.finetune_flags = finetune_flags  # passed through to every evoselfcode finetune
        self.say = say
        self.env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}

    def command(self, step: str, *arguments: str) -> dict[str, Any]:
        """``evoselfcode ARGUMENTS --progress json``; its result line, or EfficacyError."""
        log = self.work / "logs" / f"{step}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        argv = [sys.executable, "-m", "server", *arguments, "--progress", "json"]
        with log.open("w", encoding="utf-8") as stderr:
            done = subprocess.run(
                argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=self.env
            )
        results = [
            json.loads(line)
            for line in done.stdout.splitlines()
            if line.startswith("{") and '"event": "result"' in line
        ]
        seconds = time.perf_counter() - started
        if done.returncode != 0 or not results:
            tail = (done.stdout + log.read_text(encoding="utf-8"))[-3000:]
            raise EfficacyError(
                f"{step} failed (exit {done.returncode}) after {seconds:.0f} s:\n{tail}"
            )
        self.say(f"  {step}: {seconds:.0f} s")
        return results[-1]

    def evolve(self, instructions: Path, base_url: str, policy: str) -> dict[str, Any]:
        return self.command(
            f"evolve-{policy}",
            "evolve",
            "--instructions",
            str(instructions),
            "--data-dir",
            str(self.work / f"gates-{policy}"),
            "--generator-url",
            base_url,
            "--gates",
            policy,
            "--max-retries",
            "0",
        )

    def finetune(self, policy: str) -> str:
        data_dir = self.work / f"gates-{policy}"
        result = self.command(
            f"finetune-{policy}",
            "finetune",
            "--data-dir",
            str(data_dir),
            "--base-model",
            self.model,
            "--save-path",
            str(data_dir / "finetune-run"),
            "--no-auto-promote",
            *(("--epochs", str(self.sizes.epochs)) if self.sizes.epochs else ()),
            *self.finetune_flags,
            "--max-length",
            "512",  # the small model's context
            "--min-records",
            "8",
            "--seed",
            "0",
        )
        return str(result["adapter_path"])

    def evaluate(self, name: str, dataset: str, limit: int | None, adapter: str | None) -> Scored:
        out = self.work / "eval" / f"{name}-{dataset}"
        arguments = ["eval", "--model", self.model, "--dataset", dataset, "--out", str(out)]
        arguments += ["--data-dir", str(self.work / "eval-data"), "--model-version", name]
        arguments += ["--max-new-tokens", str(self.sizes.max_new_tokens)]
        if dataset == HELDOUT:
            arguments += ["--prompt-format", "instruct"]
        if limit:
            arguments += ["--limit", str(limit)]
        if adapter:
            arguments += ["--adapter", adapter]
        self.command(f"eval-{name}-{dataset}", *arguments)
        passed = {}
        for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            passed[row["task_id"]] = bool(row["passed"])
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        return Scored(name, passed, summary)


def store_contents(data_dir: Path, standin: Any, summary: dict[str, Any]) -> StoreContents:
    """What an arm's store holds, and how much of it the stand-in planned as correct code."""
    from evolution.store import TrainingStore

    plan = {reply.task_id: reply for reply in standin.replies}
    records = correct = 0
    with TrainingStore.in_data_dir(data_dir) as store:
        for record in store.training_records():
            item_id = (record.provenance.task_id or "").split(":", 1)[-1]
            records += 1
            correct += item_id in plan and plan[item_id].code_correct
    return StoreContents(records, correct, summary)


def run_loop(loop: Loop, rates: Any, seed: int) -> Outcome:
    """Evolve three ways, fine-tune three adapters, evaluate base and each on held-out tasks."""
    from evaluation.taskfamily import build_family
    from evolution.testserver import ScriptedServer
    from evolution.testserver.standin import build_standin

    sizes = loop.sizes
    family = build_family()
    train = family.train[: sizes.train_tasks] if sizes.train_tasks else family.train
    heldout_count = len(family.heldout[: sizes.heldout_tasks or None])
    standin = build_standin(train, rates, seed=seed)
    instructions = loop.work / "train-instructions.jsonl"
    rows = (json.dumps(task.to_instruction_row()) + "\n" for task in train)
    instructions.write_text("".join(rows), encoding="utf-8")
    loop.say(
        f"model {loop.model}; {len(train)} training instructions, {heldout_count} held-out "
        f"tasks, epochs {sizes.epochs or 'as finetune'}, {sizes.infill_tasks} infill tasks; "
        f"work in {loop.work}"
    )
    stores: dict[str, StoreContents] = {}
    with ScriptedServer(standin.script) as server:
        for label, policy, _ in ARMS:
            summary = loop.evolve(instructions, server.base_url, policy)
            stores[label] = store_contents(loop.work / f"gates-{policy}", standin, summary)
    adapters = {label: loop.finetune(policy) for label, policy, _ in ARMS}
    scores = {"base": loop.evaluate("base", HELDOUT, sizes.heldout_tasks, None)}
    for label, _, _ in ARMS:
        scores[label] = loop.evaluate(label, HELDOUT, sizes.heldout_tasks, adapters[label])
    infill: dict[str, Scored] = {}
    if sizes.infill_tasks:
        infill["base"] = loop.evaluate("base", INFILL, sizes.infill_tasks, None)
        infill["c"] = loop.evaluate("c", INFILL, sizes.infill_tasks, adapters["c"])
    return Outcome(standin, sizes, stores, scores, infill)
