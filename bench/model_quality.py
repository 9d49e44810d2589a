"""How well the shipped model completes code it never saw, against a random model of its shape.

    python bench/model_quality.py [--model models/evoselfcode-small] [--holes 500] [--seed 0]

Single-line fill-in-the-middle holes (``evaluation.line_holes``: a code line, the cursor after
its indentation, prefix <= 1,500 characters, suffix <= 500) are drawn with a fixed seed from
the files the model held out by path (``heldout.json``: a hashed share of the standard library
and one whole installed package), so no hole comes from a file it trained on. Each hole is
completed as the editor does it: ``build_infill_prompt`` fits prefix and suffix into the
model's window, greedy decoding, the first line is inserted. Scores: edit similarity to the
hidden line (1 - normalised Levenshtein distance, as CrossCodeEval reports it), exact match,
the share of completions that are non-empty and keep the file parsing as the original did,
and the time per completion. A random-weight model of the same shape and tokenizer gets the
same holes; both also get a left-to-right loss on the held-out files.
Last line JSON: ``ratio`` = mean edit similarity of the model, ``target`` 0.45.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evaluation.hole_completion import MAX_NEW_TOKENS, complete_holes  # noqa: E402
from evaluation.line_holes import HoleScore, LineHole, draw_holes  # noqa: E402
from evolution.pretrain.data import HELDOUT_LIST  # noqa: E402
from evolution.pretrain.heldout import heldout_files  # noqa: E402
from evolution.pretrain.init_from import TOKENIZER_FILES  # noqa: E402
from models import load_model  # noqa: E402
from models.bench_shapes import set_threads  # noqa: E402

TARGET = 0.45
VALID_TARGET = 0.80
LOSS_WINDOWS = 64


@dataclass
class Result:
    name: str
    scores: list[HoleScore]
    outputs: list[str]
    seconds: list[float]
    heldout_loss: float

    def mean(self, field: str) -> float:
        return statistics.fmean(float(getattr(s, field)) for s in self.scores)

    def interval(self, field: str) -> tuple[float, float]:
        values = [float(getattr(s, field)) for s in self.scores]
        half = 1.959964 * statistics.stdev(values) / math.sqrt(len(values))
        mean = statistics.fmean(values)
        return (mean - half, mean + half)


def complete_all(folder: Path, holes: list[LineHole], name: str, heal: bool) -> Result:
    model = load_model(folder, device="cpu")
    run = complete_holes(model, holes, heal=heal, label=name)
    model.close()
    return Result(name, run.scores, run.outputs, run.seconds, heldout_loss(folder))


def heldout_loss(folder: Path) -> float:
    """Left-to-right loss (nats/token) on windows spread over the held-out files."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    window = model.config.max_position_embeddings
    ids: list[int] = []
    for _, text in heldout_files(folder).files:
        ids += tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
    starts = range(0, len(ids) - window - 1, window)
    count = min(LOSS_WINDOWS, len(starts))
    picked = [starts[i * len(starts) // LOSS_WINDOWS] for i in range(count)]
    losses = []
    with torch.no_grad():
        for start in picked:
            row = torch.tensor([ids[start : start + window + 1]])
            logits = model(input_ids=row[:, :-1]).logits
            losses.append(float(torch.nn.functional.cross_entropy(logits[0], row[0, 1:])))
    return statistics.fmean(losses)


def random_twin(folder: Path, into: Path, seed: int) -> Path:
    """A model with ``folder``'s config and tokenizer and freshly initialised weights."""
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
    model.save_pretrained(into)
    # The held-out list too: ``complete_all`` measures each model's loss on its held-out files,
    # and the twin's must be the same files as the model's.
    for name in (*TOKENIZER_FILES, HELDOUT_LIST):
        if (folder / name).is_file():
            shutil.copy(folder / name, into / name)
    return into


def report(result: Result) -> None:
    ms = sorted(s * 1000 for s in result.seconds)
    es_low, es_high = result.interval("edit_similarity")
    em_low, em_high = result.interval("exact")
    print(
        f"{result.name:>8}: edit similarity {result.mean('edit_similarity'):.3f} "
        f"[{es_low:.3f}, {es_high:.3f}], exact match {result.mean('exact'):.3f} "
        f"[{em_low:.3f}, {em_high:.3f}], valid & non-empty {result.mean('valid_nonempty'):.3f} "
        f"(non-empty {result.mean('nonempty'):.3f}), latency p50 {ms[len(ms) // 2]:.0f} ms "
        f"p95 {ms[int(len(ms) * 0.95)]:.0f} ms, held-out loss {result.heldout_loss:.3f} nats/token"
    )


def compare(baseline: Result, model: Result) -> dict[str, dict[str, Any]]:
    """The model against a baseline on the same holes: per score, the paired mean difference
    with a 95% percentile-bootstrap interval and the exact two-sided sign test (McNemar for the
    yes/no scores) on the holes where they differ."""
    from evolution.finetune.stats import mcnemar_exact, paired_bootstrap

    compared = {}
    for field in ("edit_similarity", "exact", "valid_nonempty"):
        base = [float(getattr(s, field)) for s in baseline.scores]
        ours = [float(getattr(s, field)) for s in model.scores]
        bounds = [
            paired_bootstrap(base, ours, side=side, confidence=0.975, higher_is_better=True)
            for side in ("lower", "upper")
        ]
        low, high = bounds
        compared[field] = {
            "difference": round(low.mean_difference, 4),
            "ci95": [round(low.bound, 4), round(high.bound, 4)],
            "better": low.better,
            "worse": low.worse,
            "p": float(f"{mcnemar_exact(low.worse, low.better):.3g}"),
        }
    return compared


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=str(REPO / "models" / "evoselfcode-small"))
    parser.add_argument("--holes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    parser.add_argument("--examples", type=int, default=8, help="completions to print")
    parser.add_argument(
        "--token-healing", action="store_true", help="heal the prompt at the cursor (both models)"
    )
    parser.add_argument(
        "--baseline",
        help="another model folder with the same held-out files (an earlier version of the "
        "model): it completes the same holes, and the model is compared with it, paired",
    )
    args = parser.parse_args()
    threads = set_threads(args.threads)
    folder = Path(args.model)
    found = heldout_files(folder)
    print(found.describe())
    holes = draw_holes(found.files, args.holes, args.seed)
    sources = {h.file.split(":")[0] for h in holes}
    counts = {s: sum(h.file.startswith(s + ":") for h in holes) for s in sorted(sources)}
    files = len({h.file for h in holes})
    print(f"{len(holes)} holes (seed {args.seed}) from {files} files {counts}")
    print(f"{threads} CPU threads; greedy, at most {MAX_NEW_TOKENS} new tokens, first line kept")
    heal = args.token_healing
    print(f"token healing: {'on' if heal else 'off'}")
    shipped = complete_all(folder, holes, "model", heal)
    with tempfile.TemporaryDirectory() as tmp:
        random = complete_all(random_twin(folder, Path(tmp), args.seed), holes, "random", heal)
    against = None
    if args.baseline:
        base_folder = Path(args.baseline)
        if heldout_files(base_folder).files != found.files:
            print(f"{base_folder} holds out other files than {folder}", file=sys.stderr)
            return 2
        against = complete_all(base_folder, holes, "baseline", heal)
    report(shipped)
    report(random)
    compared = compare(against, shipped) if against else None
    if against and compared:
        report(against)
        for field, c in compared.items():
            print(
                f"model - baseline, {field}: {c['difference']:+.4f} (95% CI {c['ci95'][0]:+.4f} "
                f"to {c['ci95'][1]:+.4f}); better on {c['better']}, worse on {c['worse']} holes, "
                f"p = {c['p']:.3g} (exact sign test)"
            )
    shown = zip(holes, shipped.outputs, shipped.scores, strict=True)
    for hole, text, result in list(shown)[: args.examples]:
        mark = "=" if result.exact else f"{result.edit_similarity:.2f}"
        got = text.split("\n")[0]
        print(f"  {hole.file}:{hole.line} [{mark}] want {hole.middle!r} got {got!r}")
    line = {
        "ratio": round(shipped.mean("edit_similarity"), 4),
        "target": TARGET,
        "exact_match": round(shipped.mean("exact"), 4),
        "valid_nonempty": round(shipped.mean("valid_nonempty"), 4),
        "valid_nonempty_target": VALID_TARGET,
        "random_ratio": round(random.mean("edit_similarity"), 4),
        "random_exact_match": round(random.mean("exact"), 4),
        "random_valid_nonempty": round(random.mean("valid_nonempty"), 4),
        "heldout_loss": round(shipped.heldout_loss, 4),
        "random_heldout_loss": round(random.heldout_loss, 4),
        "latency_p50_ms": round(sorted(shipped.seconds)[len(holes) // 2] * 1000, 1),
        "holes": len(holes),
        "token_healing": heal,
        "model": str(folder),
    }
    if against and compared:
        line["baseline"] = args.baseline
        line["baseline_ratio"] = round(against.mean("edit_similarity"), 4)
        line["baseline_valid_nonempty"] = round(against.mean("valid_nonempty"), 4)
        line["vs_baseline"] = compared
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
