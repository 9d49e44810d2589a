"""Datagen throughput: records/s of a whole `evoselfcode datagen` run (both stages, filters and
outputs included) against the test server with a fixed latency, versus the concurrency bound
(concurrency ÷ latency × records per request), with a bare client doing the same requests
side by side.

    python bench/datagen.py [--latency 0.5] [--concurrency 32] [--requests 320] [--descs 320]

Stage A sends ``--requests`` requests, half per arm (n = 4 names each); stage B one per kept
name and per description (``--descs``, n = 1). The bound of a stage is its requests in waves of
``concurrency``, each taking ``latency``: ``ceil(requests / concurrency) × latency`` seconds.
The server runs in its own process (`evoselfcode testserver`); the latency is long enough that
the CPU work (the pipeline's JSON, filters and ruff, and the server's) fits in the machine, so
what is measured is how well the pipeline keeps the requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.testserver_process import start_testserver  # noqa: E402
from evolution.clients import ClientConfig, OpenAIClient  # noqa: E402
from evolution.datagen.config import PromptsConfig, load_config  # noqa: E402
from evolution.datagen.pipeline.orchestrator import Orchestrator, RunOptions  # noqa: E402
from evolution.datagen.prompts import name_prompt  # noqa: E402

TARGET = 0.80
MODEL = "Qwen2.5-Coder-32B"
SCRIPT = {
    "models": [MODEL],
    "rules": [
        {"prompt": r"^<\|fim_prefix\|>",
         "texts": ["merge_intervals", "binary_search", "", "class"]},
        {"prompt": r"^This is an algorithm function\.\n\ndef $",
         "texts": ["quick_sort", "binary_search", "def class", "lru_cache_get"]},
        {"prompt": r"# .*\ndef $",
         "text": "sum_odd_squares(n):\n    return sum((2 * i + 1) ** 2 for i in range(n))\n"},
        {"prompt": r"def \w+\($",
         "text": "items):\n    seen = set()\n    return [x for x in items if not (x in seen or "
                 "seen.add(x))]\n"},
    ],
}  # fmt: skip


def wave_bound(requests: int, concurrency: int, latency: float) -> float:
    return math.ceil(requests / concurrency) * latency


async def bare_client(base_url: str, requests: int, concurrency: int) -> tuple[int, float]:
    """Stage A's requests through the client alone: no items, no writing, no filters."""
    config = ClientConfig(base_url=base_url, model=MODEL, max_concurrency=concurrency)
    prompts = [name_prompt(arm, PromptsConfig()) for arm in ("FIM", "L2R")]
    queue = [prompts[i % 2] for i in range(requests)]
    records = 0
    async with OpenAIClient(config) as client:

        async def worker() -> None:
            nonlocal records
            while queue:
                prompt = queue.pop()
                choices = await client.complete(
                    prompt, max_tokens=16, temperature=0.4, top_p=0.9, n=4, stop=["(", " ", "\n"]
                )
                records += len(choices)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return records, time.perf_counter() - started


def run_pipeline(folder: Path, base_url: str, args: argparse.Namespace) -> dict[str, dict]:
    descs = folder / "descs.txt"
    descs.write_text("".join(f"Return the sum of the squares of the first {k} odd numbers.\n"
                             for k in range(args.descs)))  # fmt: skip
    config_file = folder / "datagen.yaml"
    config_file.write_text(yaml.safe_dump({
        "api": {"base_url": base_url, "model": MODEL},
        "namegen": {"requests_per_arm": args.requests // 2},
        "filters": {"benchmarks": ["humaneval"]},
        "io": {"out_names_dir": str(folder / "names"), "out_code_dir": str(folder / "code"),
               "logs_dir": str(folder / "logs"), "concurrency": args.concurrency,
               "input_desc_path": str(descs)},
    }))  # fmt: skip
    config = load_config(config_file)
    stages = {}
    with open(os.devnull, "w") as sink:  # the progress lines are not what is measured
        for stage in ("names", "code"):
            options = RunOptions(stages=(stage,), progress="json", progress_stream=sink)
            started = time.perf_counter()
            [report] = asyncio.run(Orchestrator(config, options).run())
            elapsed = time.perf_counter() - started
            assert report.generation is not None and report.finalized and not report.failed
            requests = report.generation.done
            stages[stage] = {
                "requests": requests,
                "records": report.generation.records,
                "seconds": elapsed,
                "bound_seconds": wave_bound(requests, args.concurrency, args.latency),
            }
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=320, help="stage A requests (both arms)")
    parser.add_argument("--descs", type=int, default=320, help="stage B descriptions")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-datagen-") as folder:
        script = Path(folder) / "script.yaml"
        script.write_text(yaml.safe_dump(SCRIPT))
        proc, base_url = start_testserver(args.latency, "--script", str(script))
        try:
            bare_records, bare_seconds = asyncio.run(
                bare_client(base_url, args.requests, args.concurrency)
            )
            stages = run_pipeline(Path(folder), base_url, args)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    print(
        f"datagen against the test server: latency {args.latency:g} s, concurrency "
        f"{args.concurrency}; stage A {args.requests} requests × 4 names, stage B "
        f"{stages['code']['requests']} requests × 1 function"
    )
    print(f"{'':34}{'records':>8}{'seconds':>9}{'records/s':>11}{'bound/s':>9}{'of bound':>10}")
    bare_bound = wave_bound(args.requests, args.concurrency, args.latency)
    rows: list[tuple[str, int, float, float]] = [
        ("bare client, stage A requests", bare_records, bare_seconds, bare_bound)
    ]
    for name, stage in (("stage A (names)", stages["names"]), ("stage B (code)", stages["code"])):
        rows.append(
            (f"pipeline {name}", stage["records"], stage["seconds"], stage["bound_seconds"])
        )
    total_records = sum(s["records"] for s in stages.values())
    total_seconds = sum(s["seconds"] for s in stages.values())
    total_bound = sum(s["bound_seconds"] for s in stages.values())
    rows.append(("pipeline, both stages", total_records, total_seconds, total_bound))
    for name, records, seconds, bound in rows:
        print(
            f"{name:34}{records:8d}{seconds:9.2f}{records / seconds:11.1f}"
            f"{records / bound:9.1f}{bound / seconds:10.0%}"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"load average during the run: {load:.1f} (other processes share these cores)")
    print(
        json.dumps(
            {
                "benchmark": "datagen",
                "ratio": round(total_bound / total_seconds, 3),
                "target": TARGET,
                "records_per_s": round(total_records / total_seconds, 1),
                "bound_records_per_s": round(total_records / total_bound, 1),
                "bare_client_ratio": round(bare_bound / bare_seconds, 3),
                "stage_a_ratio": round(
                    stages["names"]["bound_seconds"] / stages["names"]["seconds"], 3
                ),
                "stage_b_ratio": round(
                    stages["code"]["bound_seconds"] / stages["code"]["seconds"], 3
                ),
                "latency_s": args.latency,
                "concurrency": args.concurrency,
                "load_average": round(load, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
