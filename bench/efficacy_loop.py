"""Does the self-evolution loop work, and are the gates why? Held-out pass@1 before and after.

    python bench/efficacy_loop.py [--model models/evoselfcode-small] [--quick]
                                  [--train-tasks N] [--heldout-tasks N] [--infill-tasks N]
                                  [--epochs E] [--fault-rates wrong_code=0.3,...] [--work DIR]

The loop is run as a user runs it, through the command line, three ways from the same
generator outputs:

1. a stand-in for the 32B generator and the 14B verifier (``evolution.testserver.standin``:
   reference solutions, but at stated rates wrong code, broken code, prose, wrong or missing
   tests, and a noisy verifier) is served on loopback by the scripted test server;
2. ``evoselfcode evolve`` sends it the training split of the composed task family
   (``evaluation.taskfamily``), once per gate policy, each into its own store: (a) ``--gates
   none`` (every reply with code), (b) ``--gates syntax``, (c) ``--gates all``. The stand-in is
   seeded per task, so the three runs get the same replies;
3. ``evoselfcode finetune`` trains a LoRA adapter on each store (no promotion: the bench
   judges);
4. ``evoselfcode eval`` runs the base model and each adapter on the held-out split
   (``composed-heldout``: pairs of steps never combined in training) in the sandbox, prompted
   as the training pairs were (``--prompt-format instruct``: the training instructions are the
   very words eval sends), greedy; then HumanEval-infill for the base model and (c), so that an
   instruction adapter that damages fill-in-the-middle shows.

Printed: held-out pass@1 with Wilson 95% intervals for base, (a), (b), (c); exact McNemar
tests (c) vs base and (c) vs (a); what each store holds (records, and how many of them are
correct code by the stand-in's plan); infill before and after; the fault rates used. Last line:
JSON with ``ratio`` = pass@1 points gained by (c) over base, ``target`` 20, ``p_vs_base``,
``p_vs_ungated`` and ``infill_change_points``.

Full run (defaults): every training task (584), every held-out task (211), finetune's default
epochs (3), 200 infill tasks; meant to take about 20 minutes on an idle 2-core CPU with the
small model (``--train-tasks``/``--heldout-tasks`` trade precision for time). ``--quick``: 40
training tasks, 16 held-out, 1 epoch, 12 infill tasks: does everything run?
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evaluation.metrics import paired_comparison, wilson_interval  # noqa: E402
from evaluation.taskfamily import build_family  # noqa: E402
from evolution.testserver import ScriptedServer  # noqa: E402
from evolution.testserver.standin import FaultRates, StandIn, build_standin  # noqa: E402

TARGET = 20.0  # pass@1 points (c) should gain over the base model
HELDOUT = "composed-heldout"
INFILL = "humaneval-infill"
# (label, --gates policy, description)
ARMS = (("a", "none", "no gates"), ("b", "syntax", "syntax gate only"), ("c", "all", "all gates"))


@dataclass(frozen=True)
class Sizes:
    train_tasks: int | None  # None: the whole split
    heldout_tasks: int | None
    infill_tasks: int
    epochs: float | None  # None: evoselfcode finetune's default
    max_new_tokens: int  # held-out answers: a whole function (at most 107 tokens with the
    # small model's tokenizer), docstring included


FULL = Sizes(None, None, 200, None, 160)
QUICK = Sizes(40, 16, 12, 1.0, 96)


@dataclass
class Scored:
    """One evaluation: per-task pass (greedy, one sample) and its summary."""

    name: str
    passed: dict[str, bool]
    summary: dict[str, Any]

    @property
    def rate(self) -> float:
        return sum(self.passed.values()) / max(1, len(self.passed))


class Loop:
    """Runs the commands of one bench run in ``work``; each command's output is kept there."""

    def __init__(
        self, work: Path, model: str, sizes: Sizes, finetune_flags: tuple[str, ...] = ()
    ) -> None:
        self.work, self.model, self.sizes = work, model, sizes
        self.finetune_flags = finetune_flags  # passed through to every evoselfcode finetune
        self.env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}

    def command(self, step: str, *arguments: str) -> dict[str, Any]:
        """``evoselfcode ARGUMENTS --progress json``; its result line, or exit with its log."""
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
            sys.exit(f"{step} failed (exit {done.returncode}) after {seconds:.0f} s:\n{tail}")
        print(f"  {step}: {seconds:.0f} s", file=sys.stderr)
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


def store_contents(data_dir: Path, standin: StandIn) -> tuple[int, int]:
    """(records, records whose code the stand-in planned as correct) in an arm's store."""
    from evolution.store import TrainingStore

    plan = {reply.task_id: reply for reply in standin.replies}
    records = correct = 0
    with TrainingStore.in_data_dir(data_dir) as store:
        for record in store.training_records():
            item_id = (record.provenance.task_id or "").split(":", 1)[-1]
            records += 1
            correct += item_id in plan and plan[item_id].code_correct
    return records, correct


def interval_text(scored: Scored) -> str:
    n = len(scored.passed)
    low, high = wilson_interval(scored.rate, n)
    hits = sum(scored.passed.values())
    return f"{scored.rate:6.1%} ({hits}/{n})  [{low:.1%}, {high:.1%}]"


def paired(base: Scored, candidate: Scored) -> tuple[float, str]:
    """(two-sided exact McNemar p, a line saying how many tasks moved each way)."""
    comparison = paired_comparison(
        {t: float(p) for t, p in base.passed.items()},
        {t: float(p) for t, p in candidate.passed.items()},
    )
    points = 100 * comparison.mean_difference
    text = (
        f"{candidate.name} vs {base.name}: {points:+.1f} points; {comparison.better} tasks "
        f"only {candidate.name} passes, {comparison.worse} only {base.name}; exact McNemar "
        f"p = {comparison.p_value:.3g}"
    )
    return comparison.p_value, text


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=str(REPO / "models" / "evoselfcode-small"))
    parser.add_argument("--quick", action="store_true", help="a few tasks: does it all run?")
    parser.add_argument("--train-tasks", type=int, help="training instructions (default: all)")
    parser.add_argument("--heldout-tasks", type=int, help="held-out tasks (default: all)")
    parser.add_argument("--infill-tasks", type=int, help="HumanEval-infill tasks (0: skip)")
    parser.add_argument("--epochs", type=float, help="fine-tuning epochs (default: finetune's)")
    parser.add_argument("--learning-rate", help="fine-tuning learning rate (default: finetune's)")
    parser.add_argument("--fault-rates", default="", help="e.g. wrong_code=0.3,prose=0.5")
    parser.add_argument("--standin-seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="keep every file here (default: a temp dir)")
    args = parser.parse_args()
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        args.train_tasks if args.train_tasks is not None else base.train_tasks,
        args.heldout_tasks if args.heldout_tasks is not None else base.heldout_tasks,
        args.infill_tasks if args.infill_tasks is not None else base.infill_tasks,
        args.epochs if args.epochs is not None else base.epochs,
        base.max_new_tokens,
    )
    rates = FaultRates.parse(args.fault_rates)
    work = args.work or Path(tempfile.mkdtemp(prefix="evoselfcode-efficacy-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        flags = ("--learning-rate", args.learning_rate) if args.learning_rate else ()
        return run(Loop(work, args.model, sizes, flags), rates, args.standin_seed)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def run(loop: Loop, rates: FaultRates, seed: int) -> int:
    sizes = loop.sizes
    family = build_family()
    train = family.train[: sizes.train_tasks] if sizes.train_tasks else family.train
    heldout_count = len(family.heldout[: sizes.heldout_tasks or None])
    standin = build_standin(train, rates, seed=seed)
    instructions = loop.work / "train-instructions.jsonl"
    rows = (json.dumps(task.to_instruction_row()) + "\n" for task in train)
    instructions.write_text("".join(rows), encoding="utf-8")
    print(
        f"model {loop.model}; {len(train)} training instructions, {heldout_count} held-out "
        f"tasks, epochs {sizes.epochs or 'as finetune'}, {sizes.infill_tasks} infill tasks; "
        f"work in {loop.work}",
        file=sys.stderr,
    )
    stores: dict[str, tuple[int, int, dict[str, Any]]] = {}
    adapters: dict[str, str] = {}
    with ScriptedServer(standin.script) as server:
        for label, policy, _ in ARMS:
            summary = loop.evolve(instructions, server.base_url, policy)
            records, correct = store_contents(loop.work / f"gates-{policy}", standin)
            stores[label] = (records, correct, summary)
    for label, policy, _ in ARMS:
        adapters[label] = loop.finetune(policy)
    scores = {"base": loop.evaluate("base", HELDOUT, sizes.heldout_tasks, None)}
    for label, _, _ in ARMS:
        scores[label] = loop.evaluate(label, HELDOUT, sizes.heldout_tasks, adapters[label])
    infill: dict[str, Scored] = {}
    if sizes.infill_tasks:
        infill["base"] = loop.evaluate("base", INFILL, sizes.infill_tasks, None)
        infill["c"] = loop.evaluate("c", INFILL, sizes.infill_tasks, adapters["c"])
    return report(standin, stores, scores, infill, sizes)


def report(
    standin: StandIn,
    stores: dict[str, tuple[int, int, dict[str, Any]]],
    scores: dict[str, Scored],
    infill: dict[str, Scored],
    sizes: Sizes,
) -> int:
    print(f"\nfault rates: {json.dumps(standin.rates.to_dict())}")
    print(f"stand-in replies ({len(standin.replies)}): {json.dumps(standin.counts())}")
    print(f"\n{'arm':<22} {'records':>7} {'correct':>8}   held-out pass@1 (95% Wilson)")
    print(f"{'base model':<22} {'-':>7} {'-':>8}   {interval_text(scores['base'])}")
    for label, _, description in ARMS:
        records, correct, _ = stores[label]
        share = f"{correct / records:.0%}" if records else "-"
        name = f"({label}) {description}"
        print(f"{name:<22} {records:>7} {share:>8}   {interval_text(scores[label])}")
    for label, _, _ in ARMS:
        rejected = stores[label][2].get("rejectedBy") or {}
        print(f"  ({label}) rejected by: {json.dumps(rejected)}")
    p_vs_base, line = paired(scores["base"], scores["c"])
    print("\n" + line)
    p_vs_ungated, line = paired(scores["a"], scores["c"])
    print(line)
    p_b, line = paired(scores["a"], scores["b"])
    print(line)
    infill_change = None
    if infill:
        before, after = infill["base"].rate, infill["c"].rate
        infill_change = round(100 * (after - before), 2)
        print(
            f"\nHumanEval-infill pass@1 (first {sizes.infill_tasks} tasks): base "
            f"{interval_text(infill['base'])}, after (c) {interval_text(infill['c'])}: "
            f"{infill_change:+.1f} points"
        )
    gained = round(100 * (scores["c"].rate - scores["base"].rate), 2)
    result = {
        "ratio": gained,
        "target": TARGET,
        "p_vs_base": p_vs_base,
        "p_vs_ungated": p_vs_ungated,
        "p_syntax_vs_ungated": p_b,
        "infill_change_points": infill_change,
        "pass_at_1": {name: round(s.rate, 4) for name, s in scores.items()},
        "heldout_tasks": len(scores["base"].passed),
        "train_instructions": len(standin.replies),
        "records": {label: stores[label][0] for label, _, _ in ARMS},
        "correct_records": {label: stores[label][1] for label, _, _ in ARMS},
        "epochs": sizes.epochs,
        "fault_rates": standin.rates.to_dict(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
