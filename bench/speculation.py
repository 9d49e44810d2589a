"""Prompt-lookup speculative decoding: greedy decode time with n-gram drafts vs without.

    python bench/speculation.py [--model DIR | --shape qwen2.5-coder-0.5b] [--edits 2]
                                [--new-tokens 32] [--context 500] [--max-draft 8]

Edits of held-out code (``bench/spec_edits.py``): *retype* (a file typed anew at a few line
starts) and *rename* (a function copied with a parameter renamed: the body is the original
with the new name). Each edit is decoded greedily, plain and speculative, by one model whose
prefix cache serves the second of the two (alternating which goes first), so both pay the
same prefill; their decode times are compared and every output must be identical.

What a run can tell depends on the model. ``--model DIR`` (the project's trained model)
gives the real acceptance rate and speed-up. RANDOM weights (``--shape``, the default: 0.5B's
shape, for timing) mostly repeat one token, which drafts predict perfectly: their ratio is
the best case of this machine, not a forecast. Two figures that need no trained model close
the gap: the cost of one forward of 1..17 tokens here (verifying a k-token draft costs
``cost(k+1)``), and a replay of the drafter on the held-out code itself, as if the model
wrote exactly that code; together they predict the ratio per draft setting.
Last line JSON: ``ratio`` = speculative decode time / plain decode time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from spec_edits import Edit, heldout_files, predicted_ratio, rename_edits, replay, retype_edits  # noqa: E402

from models import SamplingParams, load_model  # noqa: E402
from models.bench_shapes import add_model_arguments, bench_model_dir, set_threads  # noqa: E402
from models.local import LocalModel  # noqa: E402
from models.speculation import Speculation  # noqa: E402

TARGET = 0.8  # the speed-up worth its complexity: 1.25x on edits of held-out code
SIZES: tuple[int, ...] = (1, 2, 3, 5, 9, 17)  # tokens per forward for the cost curve


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.set_defaults(shape="qwen2.5-coder-0.5b")
    parser.add_argument("--model", help="a model folder (the trained model); else --shape")
    parser.add_argument("--edits", type=int, default=2, help="edits of each kind")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--context", type=int, default=500, help="prompt tokens before the cursor")
    parser.add_argument("--max-draft", type=int, default=Speculation.max_draft)
    parser.add_argument("--min-ngram", type=int, default=Speculation.min_ngram)
    parser.add_argument(
        "--check-all", action="store_true", help="check every draft (no cost-aware governor)"
    )
    args = parser.parse_args()
    threads = set_threads(args.threads)
    folder = Path(args.model) if args.model else bench_model_dir(args.shape)
    print(f"loading {folder}...", file=sys.stderr)
    model = load_model(folder, device=args.device, dtype=args.dtype)
    assert isinstance(model, LocalModel)
    spec = Speculation(
        max_draft=args.max_draft,
        max_ngram=max(Speculation.max_ngram, args.min_ngram),
        min_ngram=args.min_ngram,
        adaptive=not args.check_all,
    )
    edits = make_edits(model, args.edits, args.context)

    info = model.info
    weights = "RANDOM WEIGHTS" if info.random_weights else "trained weights"
    print(f"model: {info.name} ({weights}), {info.device}, {info.dtype}, {threads} CPU threads")
    seconds = cost_curve(model, edits[0])
    costs = {t: s / seconds[1] for t, s in seconds.items()}
    curve = ", ".join(f"{t}: {c:.2f}" for t, c in costs.items())
    print(f"cost of a forward of T tokens / of 1 token ({1000 * seconds[1]:.0f} ms): {curve}")
    table = replay_table(model, edits, args.new_tokens * 4, costs)
    run = compare(model, edits, args.new_tokens, spec)
    print(
        f"runtime, {len(edits)} edits x {args.new_tokens} tokens, drafts of <= {spec.max_draft}"
        f"{' (all checked)' if args.check_all else ''}: "
        f"plain {run['plain_ms']:.0f} ms, speculative {run['spec_ms']:.0f} ms; "
        f"acceptance {run['acceptance']:.2f}, {run['tokens_per_forward']:.2f} tokens per forward"
    )
    print(f"ratio {run['ratio']:.3f} (target <= {TARGET}); outputs identical: {run['identical']}")
    record = {
        "bench": "speculation",
        "ratio": round(run["ratio"], 4),
        "target": TARGET,
        "target_met": run["ratio"] <= TARGET,
        "acceptance_rate": round(run["acceptance"], 4),
        "identical": run["identical"],
        "tokens_per_forward": round(run["tokens_per_forward"], 3),
        "per_kind": run["per_kind"],
        "cost_curve": {str(t): round(c, 3) for t, c in costs.items()},
        "replay": table,
        "max_draft": spec.max_draft,
        "min_ngram": spec.min_ngram,
        "adaptive": spec.adaptive,
        "edits": len(edits),
        "new_tokens": args.new_tokens,
        "model": info.name,
        "random_weights": info.random_weights,
        "device": info.device,
        "dtype": info.dtype,
        "threads": threads,
    }
    print(json.dumps(record))
    return 0


def make_edits(model: LocalModel, count: int, context: int) -> list[Edit]:
    files = heldout_files()
    each = -(-count // len(files))  # spread over the files
    counter = model.count_tokens_batch
    retype = [e for f in files for e in retype_edits(f, each, context, counter)]
    rename = [e for f in files for e in rename_edits(f, each, context, counter)]
    return _spread(retype, count) + _spread(rename, count)


def _spread(items: list[Edit], count: int) -> list[Edit]:
    """``count`` of ``items`` evenly apart (so over every file)."""
    return [items[i * len(items) // count] for i in range(min(count, len(items)))]


def cost_curve(model: LocalModel, edit: Edit, reps: int = 2) -> dict[int, float]:
    """Best-of-``reps`` seconds of one forward of T tokens after the edit's prompt."""
    import torch

    rt = model._runtime
    ids = model.encode(edit.prompt)
    cache = rt.new_cache()
    best = dict.fromkeys(SIZES, float("inf"))
    with torch.inference_mode():
        rt.forward(torch.tensor([ids]), torch.arange(len(ids))[None], cache, None)
        for rep in range(reps + 1):  # the first round warms up
            for t in SIZES:  # interleaved, so load on the machine hits every size alike
                step = torch.tensor([ids[-t:]])  # [1, T]
                positions = torch.arange(len(ids), len(ids) + t)[None]  # [1, T]
                start = time.perf_counter()
                if t == 1:
                    rt.forward(step, positions, cache, None)
                else:
                    assert rt.forward_tail is not None
                    rt.forward_tail(step, positions, cache, t)
                if rep:
                    best[t] = min(best[t], time.perf_counter() - start)
                cache.crop(-t)
    return best


def replay_table(
    model: LocalModel, edits: list[Edit], tokens: int, costs: dict[int, float]
) -> dict[str, list[float]]:
    """Drafting replayed on the true code per setting: acceptance, and the ratio predicted
    from this machine's cost curve (linear between measured sizes)."""

    def cost(t: int) -> float:
        low = max(s for s in SIZES if s <= t)
        high = min((s for s in SIZES if s >= t), default=SIZES[-1])
        if high == low:
            return costs[low]
        return costs[low] + (costs[high] - costs[low]) * (t - low) / (high - low)

    table: dict[str, list[float]] = {}
    print(f"replay on the true code ({tokens} tokens per edit), predicted ratio on this machine:")
    for kind in ("retype", "rename"):
        cases = [
            (model.encode(e.prompt), model.encode(e.truth)[:tokens])
            for e in edits
            if e.kind == kind
        ]
        for max_draft in (4, 8, 16):
            for min_ngram in (1, 2, 3):
                s = Speculation(
                    max_draft=max_draft, max_ngram=max(3, min_ngram), min_ngram=min_ngram
                )
                runs = [replay(p, t, s) for p, t in cases]
                drafted, accepted = sum(r.drafted for r in runs), sum(r.accepted for r in runs)
                row = {
                    "acceptance": round(accepted / max(drafted, 1), 3),
                    "tokens_per_forward": round(
                        sum(r.new_tokens - 1 for r in runs) / sum(len(r.forwards) for r in runs), 3
                    ),
                    "ratio": round(predicted_ratio(runs, cost), 3),
                }
                table[f"{kind} k={max_draft} n>={min_ngram}"] = list(row.values())
                print(
                    f"  {kind:6} k={max_draft:<2} n>={min_ngram}: acceptance "
                    f"{row['acceptance']:.2f}, {row['tokens_per_forward']:.2f} tokens per "
                    f"forward, predicted ratio {row['ratio']:.2f}"
                )
    return table


def compare(model: LocalModel, edits: list[Edit], new_tokens: int, spec: Speculation) -> dict:
    params = SamplingParams(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
    model.speculation = None
    model.generate(edits[0].prompt, SamplingParams(max_new_tokens=2))  # warm-up
    times = {"plain": 0.0, "spec": 0.0}
    per_kind: dict[str, list[float]] = {}
    drafted = accepted = forwards = same = 0
    for i, edit in enumerate(edits):
        gens = {}
        for mode in ("plain", "spec") if i % 2 == 0 else ("spec", "plain"):
            model.speculation = spec if mode == "spec" else None
            gens[mode] = model.generate(edit.prompt, params)
            times[mode] += gens[mode].decode_ms
        g = gens["spec"]
        drafted, accepted = drafted + g.draft_tokens, accepted + g.accepted_draft_tokens
        forwards += g.new_tokens - 1 - g.accepted_draft_tokens
        same += g.token_ids == gens["plain"].token_ids
        ratio = g.decode_ms / gens["plain"].decode_ms
        per_kind.setdefault(edit.kind, []).append(ratio)
        print(
            f"  {edit.kind:6} {edit.where:32} plain {gens['plain'].decode_ms:7.0f} ms, "
            f"speculative {g.decode_ms:7.0f} ms ({ratio:.2f}), "
            f"accepted {g.accepted_draft_tokens}/{g.draft_tokens} drafted"
        )
    return {
        "plain_ms": times["plain"],
        "spec_ms": times["spec"],
        "ratio": times["spec"] / times["plain"],
        "acceptance": accepted / max(drafted, 1),
        "tokens_per_forward": (len(edits) * (new_tokens - 1)) / max(forwards, 1),
        "identical": same == len(edits),
        "per_kind": {k: round(statistics.median(v), 3) for k, v in per_kind.items()},
    }


if __name__ == "__main__":
    raise SystemExit(main())
