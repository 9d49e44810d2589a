"""Batched greedy generation: tokens/s for a batch of 16 prompts vs the same prompts one by one.

    python bench/batching.py [--shape bench] [--batch 16] [--new-tokens 64] [--dtype auto]

A RANDOM-WEIGHT model (``--shape bench``: hidden 512, 8 layers) completes 16 different prompts
of real Python source (function headers with their context, 60-200 tokens, as in HumanEval
evaluation). Every prompt decodes exactly ``--new-tokens`` tokens (end-of-text suppressed; a
random model would otherwise stop at arbitrary points), so both runs produce the same number
of tokens. Throughput counts generated tokens over wall time including prefill. Greedy
outputs of the batch must equal the one-by-one outputs. One by one is the plain decode loop
(``ratio``) and, beside it, the product's single-sequence path with prompt-lookup speculation:
on a random model, which repeats itself, speculation accepts far more than on real code, so
that figure flatters the single path and is shown, not used as the ratio.

What batching can give on this hardware is measured in the same run (``decode_ceiling``): one
decode step of the bare model (a forward of one new token per row over a cached prompt) at
batch 1 and at ``--batch``. Batch 1 reads every weight for one token; a batch reads them once
for all its rows, until the arithmetic, not the memory, is the limit. ``batch x step(1) /
step(batch)`` is the most that batching any decode loop can gain here, before prefill,
padding and bookkeeping. Prefill gains nothing: on a CPU it is bound by arithmetic, which a
batch does not share, so the most this workload can gain (``workload_bound``) is the one by
one run's time (its prefill plus its decode, both measured) over its prefill plus
``--new-tokens`` bare steps at batch ``--batch``; the ratio above is set against both.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import sysconfig
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models import SamplingParams, load_model  # noqa: E402
from models.bench_shapes import SHAPES, add_model_arguments, bench_model_dir, set_threads  # noqa: E402
from models.local import LocalModel  # noqa: E402

TARGET = 4.0


def function_prompts(count: int) -> list[str]:
    """Source up to and including ``def name(...):`` lines of stdlib modules."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    prompts: list[str] = []
    for name in ("textwrap.py", "fnmatch.py", "shlex.py", "glob.py", "colorsys.py", "bisect.py"):
        text = (stdlib / name).read_text(encoding="utf-8")
        for match in re.finditer(r"^def \w+\(.*\):\n", text, flags=re.MULTILINE):
            start = max(0, match.start() - 300 - 40 * len(prompts))
            prompts.append(text[start : match.end()])
            if len(prompts) == count:
                return prompts
    raise SystemExit("not enough functions found in the standard library")


def decode_ceiling(model: LocalModel, prompt: str, batch: int, steps: int = 8) -> dict:
    """Seconds per decode step of the bare model at batch 1 and ``batch`` (median of
    ``steps``), after a prefill of ``prompt`` in every row, and the speed-up they bound."""
    import torch

    ids = model.tokenizer(prompt, return_tensors="pt").input_ids

    def step_seconds(rows: int) -> float:
        with torch.inference_mode():
            out = model.hf_model(  # the product's KV cache (models.torch_engine)
                input_ids=ids.repeat(rows, 1),
                past_key_values=model.engine.new_cache(),
                use_cache=True,
            )
            cache, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            times = []
            for _ in range(steps):
                started = time.perf_counter()
                out = model.hf_model(input_ids=token, past_key_values=cache, use_cache=True)
                times.append(time.perf_counter() - started)
                cache, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        return sorted(times)[len(times) // 2]

    step_seconds(1)  # warm-up
    single, batched = step_seconds(1), step_seconds(batch)
    return {
        "step_ms_batch_1": round(1000 * single, 2),
        f"step_ms_batch_{batch}": round(1000 * batched, 2),
        "ceiling": round(batch * single / batched, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    threads = set_threads(args.threads)

    print(f"building/loading the RANDOM-WEIGHT '{args.shape}' model...", file=sys.stderr)
    model = load_model(bench_model_dir(args.shape), device=args.device, dtype=args.dtype)
    assert isinstance(model, LocalModel)
    one_by_one = LocalModel(
        model.engine, model.tokenizer, model.info, prefix_cache=False, speculation=None
    )
    speculative = LocalModel(model.engine, model.tokenizer, model.info, prefix_cache=False)
    prompts = function_prompts(args.batch)
    params = SamplingParams(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens)

    model.generate_batch(prompts[:2], SamplingParams(max_new_tokens=2))  # warm-up
    t0 = time.perf_counter()
    batched = model.generate_batch(prompts, params, batch_size=args.batch)
    t1 = time.perf_counter()
    singles = [one_by_one.generate(p, params) for p in prompts]
    t2 = time.perf_counter()
    drafted = [speculative.generate(p, params) for p in prompts]
    rate_speculative = sum(g.new_tokens for g in drafted) / (time.perf_counter() - t2)

    tokens_batched = sum(g.new_tokens for g in batched)
    tokens_single = sum(g.new_tokens for g in singles)
    rate_batched = tokens_batched / (t1 - t0)
    rate_single = tokens_single / (t2 - t1)
    ratio = rate_batched / rate_single
    ceiling = decode_ceiling(model, prompts[len(prompts) // 2], args.batch)
    prefill_s = sum(g.prefill_ms for g in singles) / 1000
    batched_best_s = prefill_s + args.new_tokens * ceiling[f"step_ms_batch_{args.batch}"] / 1000
    workload_bound = (t2 - t1) / batched_best_s
    same_rows = sum(a.token_ids == b.token_ids for a, b in zip(batched, singles, strict=True))
    identical = same_rows == len(prompts)
    lengths = [g.prompt_tokens for g in batched]
    info = model.info
    print(
        f"model: RANDOM WEIGHTS, shape {args.shape} {SHAPES[args.shape]}, {info.device}, "
        f"{info.dtype}, {threads} CPU threads"
    )
    print(
        f"{len(prompts)} prompts of {min(lengths)}-{max(lengths)} tokens, "
        f"{args.new_tokens} new tokens each"
    )
    print(
        f"batch of {args.batch}: {tokens_batched} tokens in {t1 - t0:6.2f} s "
        f"= {rate_batched:8.1f} tokens/s"
    )
    print(f"one by one:  {tokens_single} tokens in {t2 - t1:6.2f} s = {rate_single:8.1f} tokens/s")
    print(
        f"one by one with prompt-lookup speculation: {rate_speculative:8.1f} tokens/s "
        f"(batch / speculative: {rate_batched / rate_speculative:.2f})"
    )
    print(
        f"decode step of the bare model: {ceiling['step_ms_batch_1']} ms at batch 1, "
        f"{ceiling[f'step_ms_batch_{args.batch}']} ms at batch {args.batch}: batching can gain "
        f"at most {ceiling['ceiling']:.2f}x here; this loop got {ratio / ceiling['ceiling']:.0%} "
        "of that"
    )
    print(
        f"prefill one by one: {prefill_s:.2f} s of {t2 - t1:.2f} s, and a batch prefills as "
        f"much: this workload can gain at most {workload_bound:.2f}x; this loop got "
        f"{ratio / workload_bound:.0%} of that"
    )
    note = "" if identical else "; low-precision rounding can flip a near-tie of random weights"
    print(
        f"ratio {ratio:.2f} (target >= {TARGET}); outputs identical: {identical} "
        f"({same_rows}/{len(prompts)} rows{note})"
    )
    print(
        json.dumps(
            {
                "bench": "batching",
                "ratio": round(ratio, 3),
                "target": TARGET,
                "target_met": ratio >= TARGET,
                "identical": identical,
                "rows_identical": f"{same_rows}/{len(prompts)}",
                "tokens_per_s_batched": round(rate_batched, 1),
                "tokens_per_s_one_by_one": round(rate_single, 1),
                "tokens_per_s_one_by_one_speculative": round(rate_speculative, 1),
                "decode_ceiling": ceiling,
                "share_of_ceiling": round(ratio / ceiling["ceiling"], 3),
                "prefill_s_one_by_one": round(prefill_s, 2),
                "workload_bound": round(workload_bound, 2),
                "share_of_workload_bound": round(ratio / workload_bound, 3),
                "batch": args.batch,
                "new_tokens": args.new_tokens,
                "shape": args.shape,
                "device": info.device,
                "dtype": info.dtype,
                "threads": threads,
                "random_weights": True,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
