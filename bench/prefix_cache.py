"""KV prefix reuse in a simulated typing session: median request latency with reuse vs without.

    python bench/prefix_cache.py [--shape bench] [--context 1600] [--requests 24]
                                 [--new-tokens 16] [--suffix-lines 0] [--dtype auto]

A RANDOM-WEIGHT model (``--shape bench``: hidden 512, 8 layers) gets a FIM prompt of real
Python source with at least ``--context`` tokens before the cursor; each request types the
next character of that source at the cursor and asks for ``--new-tokens`` greedy tokens
(end-of-text suppressed, so every request decodes the same length). Latency is the whole
request: prefill plus decode. The same weights serve both paths, alternating request by
request, so other load on the machine hits both alike; every output must be identical.

Reuse can only shorten the prefill: the split printed before the ratio shows how much of the
request is decoding, which both paths pay alike. Where decoding dominates (bfloat16 on a CPU
whose bf16 matrix-vector products are no faster than fp32 ones, while its prefill is ~2.4x
faster), the whole-request ratio stays above what the prefill ratio alone would give.

``--suffix-lines 0`` types at the end of the file. With a suffix (typing mid-file), the
tokens after the cursor change position each keystroke and are prefilled again every time:
PSM order puts the suffix after the prefix.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import sysconfig
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models import SamplingParams, fim_prompt, load_model  # noqa: E402
from models.bench_shapes import SHAPES, add_model_arguments, bench_model_dir, set_threads  # noqa: E402
from models.local import LocalModel  # noqa: E402

TARGET = 0.35


def session_text() -> str:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return "".join(
        (stdlib / name).read_text(encoding="utf-8") for name in ("argparse.py", "json/decoder.py")
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--context", type=int, default=1600, help="tokens before the cursor")
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--suffix-lines", type=int, default=0)
    args = parser.parse_args()
    threads = set_threads(args.threads)

    print(f"building/loading the RANDOM-WEIGHT '{args.shape}' model...", file=sys.stderr)
    cached = load_model(bench_model_dir(args.shape), device=args.device, dtype=args.dtype)
    assert isinstance(cached, LocalModel)
    uncached = LocalModel(cached.engine, cached.tokenizer, cached.info, prefix_cache=False)
    info = cached.info

    text = session_text()
    cursor, tokens = 0, 0
    lines = text.splitlines(keepends=True)
    for line, count in zip(lines, cached.count_tokens_batch(lines), strict=True):
        if tokens >= args.context:  # whole lines up to the requested context size
            break
        cursor, tokens = cursor + len(line), tokens + count
    suffix_end = cursor
    for _ in range(args.suffix_lines):
        suffix_end = text.index("\n", suffix_end) + 1
    typed = text[suffix_end : suffix_end + args.requests + 1]
    suffix = text[cursor:suffix_end]
    prefix = text[:cursor]
    params = SamplingParams(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens)

    def prompt(i: int):
        return fim_prompt(prefix + typed[:i], suffix)

    cached.generate(prompt(0), params)  # warm-up, and fills the cache for request 1
    uncached.generate(prompt(0), params)
    with_reuse: list[float] = []
    without: list[float] = []
    same = 0
    reused_tokens: list[int] = []
    prefill_with: list[float] = []
    prefill_without: list[float] = []
    decode: list[float] = []  # the new tokens after the first: reuse cannot shorten them
    prompt_tokens = 0
    for i in range(1, args.requests + 1):
        p = prompt(i)
        t0 = time.perf_counter()
        a = cached.generate(p, params)
        t1 = time.perf_counter()
        b = uncached.generate(p, params)
        t2 = time.perf_counter()
        with_reuse.append((t1 - t0) * 1000)
        without.append((t2 - t1) * 1000)
        same += a.token_ids == b.token_ids
        reused_tokens.append(a.cached_tokens)
        prefill_with.append(a.prefill_ms)
        prefill_without.append(b.prefill_ms)
        decode += [a.decode_ms, b.decode_ms]
        prompt_tokens = a.prompt_tokens

    identical = same == args.requests
    med_with, med_without = statistics.median(with_reuse), statistics.median(without)
    ratio = med_with / med_without
    prefill_ratio = statistics.median(prefill_with) / statistics.median(prefill_without)
    med_decode = statistics.median(decode)
    print(
        f"model: RANDOM WEIGHTS, shape {args.shape} {SHAPES[args.shape]}, {info.device}, "
        f"{info.dtype}, {threads} CPU threads"
    )
    print(
        f"session: {args.requests} requests, one character typed per request, "
        f"prompt {prompt_tokens} tokens ({cached.count_tokens(suffix)} after the cursor), "
        f"{args.new_tokens} new tokens each"
    )
    print(
        f"reused from the cache: median {statistics.median(reused_tokens):.0f} tokens per request"
    )
    print(f"median latency with prefix reuse:    {med_with:8.1f} ms")
    print(f"median latency without prefix reuse: {med_without:8.1f} ms")
    print(
        f"of which prefill: {statistics.median(prefill_with):.1f} ms with reuse, "
        f"{statistics.median(prefill_without):.1f} ms without (ratio {prefill_ratio:.3f}); "
        f"decoding the rest: {med_decode:.1f} ms in both"
    )
    print(
        f"ratio {ratio:.3f} (target <= {TARGET}); outputs identical: {identical} "
        f"({same}/{args.requests} requests)"
    )
    print(
        json.dumps(
            {
                "bench": "prefix_cache",
                "ratio": round(ratio, 4),
                "target": TARGET,
                "target_met": ratio <= TARGET,
                "identical": identical,
                "requests_identical": f"{same}/{args.requests}",
                "median_ms_with_reuse": round(med_with, 1),
                "median_ms_without_reuse": round(med_without, 1),
                "prefill_ratio": round(prefill_ratio, 4),
                "median_decode_ms": round(med_decode, 1),
                "prompt_tokens": prompt_tokens,
                "new_tokens": args.new_tokens,
                "requests": args.requests,
                "shape": args.shape,
                "device": info.device,
                "threads": threads,
                "dtype": info.dtype,
                "random_weights": True,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
