"""Client throughput against the test server: completed requests/s at concurrency 32 with a fixed
per-request latency, versus the bound concurrency ÷ latency (and raw httpx, side by side).

    python bench/clients.py [--latency 0.5] [--concurrency 32] [--requests 320] [--rounds 3]

The server runs in its own process (`evoselfcode testserver`), so client and server do not share
one interpreter lock. The latency must be long enough that the CPU work of client and server at
the bound (reported per request) fits easily in the machine; otherwise the benchmark measures
the CPU instead of how well the client keeps 32 requests in flight. httpx costs about 1-2 ms of
CPU per request here, so at 0.1 s (320 req/s) client and server need most of a core, and on a
2-core machine shared with other work the CPU becomes the limit; 0.5 s (64 req/s, about 0.15
of a core) leaves ample room and is still shorter than any real generator call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.testserver_process import start_testserver  # noqa: E402
from evolution.clients import ClientConfig, OpenAIClient  # noqa: E402

TARGET = 0.85
MESSAGES = [{"role": "user", "content": "Does this function return the sum? def add(a, b): ..."}]


def server_cpu_s(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (Linux /proc; 0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@dataclass(order=True)
class Run:
    requests_per_s: float
    client_cpu_ms: float  # per request
    server_cpu_ms: float


async def drive(call: Callable[[], Awaitable[object]], requests: int, concurrency: int) -> Run:
    """Run ``requests`` calls with ``concurrency`` workers."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Run(requests / elapsed, (time.process_time() - cpu) / requests * 1000, 0.0)


async def ours(base_url: str, requests: int, concurrency: int) -> Run:
    config = ClientConfig(base_url=base_url, model="bench", max_concurrency=concurrency)
    async with OpenAIClient(config) as client:

        async def call() -> object:
            return await client.chat(MESSAGES, max_tokens=8)

        await drive(call, concurrency, concurrency)  # warm: open the connections
        return await drive(call, requests, concurrency)


async def raw_httpx(base_url: str, requests: int, concurrency: int) -> Run:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        body = {"model": "bench", "messages": MESSAGES, "n": 1, "max_tokens": 8}

        async def call() -> object:
            response = await http.post(base_url + "/chat/completions", json=body)
            response.raise_for_status()
            return response.json()["choices"]

        await drive(call, concurrency, concurrency)
        return await drive(call, requests, concurrency)


def measure(latency: float, requests: int, concurrency: int, rounds: int) -> dict[str, Run]:
    """Both clients against one server, alternating round by round so that a change in the
    machine's load hits both alike; the median round of each."""
    variants = {"raw httpx": raw_httpx, "OpenAIClient": ours}
    runs: dict[str, list[Run]] = {name: [] for name in variants}
    proc, base_url = start_testserver(latency)
    try:
        for _ in range(rounds):
            for name, bench in variants.items():
                before = server_cpu_s(proc.pid)
                run = asyncio.run(bench(base_url, requests, concurrency))
                used = server_cpu_s(proc.pid) - before
                run.server_cpu_ms = used / (requests + concurrency) * 1000
                runs[name].append(run)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {name: statistics.median_low(r) for name, r in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=320, help="per round and client")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    bound = args.concurrency / args.latency
    print(
        f"chat requests at concurrency {args.concurrency}, server latency {args.latency:g} s: "
        f"bound = {args.concurrency} / {args.latency:g} = {bound:.0f} req/s; "
        f"{args.rounds} alternating rounds of {args.requests} requests per client, median shown"
    )
    runs = measure(args.latency, args.requests, args.concurrency, args.rounds)
    raw, mine = runs["raw httpx"], runs["OpenAIClient"]
    print(f"{'':24}{'req/s':>8}{'of bound':>10}{'client CPU':>12}{'server CPU':>12}")
    print(f"{'bound (conc/latency)':24}{bound:8.1f}{1:10.0%}")
    for name, run in runs.items():
        print(
            f"{name:24}{run.requests_per_s:8.1f}{run.requests_per_s / bound:10.0%}"
            f"{run.client_cpu_ms:9.2f} ms{run.server_cpu_ms:9.2f} ms"
        )
    cores = bound * (mine.client_cpu_ms + mine.server_cpu_ms) / 1000
    print(
        f"why {args.latency:g} s: at the bound, client and server together need {cores:.2f} CPU "
        f"cores of this machine's {os.cpu_count()}, so the measurement is of waiting on the "
        "server, not of the CPU (at 0.1 s it would be several times more, and the CPU, shared "
        "with other processes, would become the limit)"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"load average during the run: {load:.1f} (other processes share these cores)")
    if cores > 0.5 * (os.cpu_count() or 1):
        print("warning: the CPU may be the bottleneck at this latency; use a larger --latency")
    print(
        json.dumps(
            {
                "benchmark": "clients",
                "ratio": round(mine.requests_per_s / bound, 3),
                "target": TARGET,
                "requests_per_s": round(mine.requests_per_s, 1),
                "raw_httpx_requests_per_s": round(raw.requests_per_s, 1),
                "bound_requests_per_s": round(bound, 1),
                "cpu_cores_at_bound": round(cores, 2),
                "load_average": round(load, 1),
                "latency_s": args.latency,
                "concurrency": args.concurrency,
                "rounds": args.rounds,
                "requests_per_round": args.requests,
            }
        )
    )


if __name__ == "__main__":
    main()
