"""Scripted model answers and config files for the datagen tests (against the test server)."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from pathlib import Path
from typing import Any

import yaml

from evolution.datagen.config import DatagenConfig, load_config
from evolution.datagen.pipeline.orchestrator import Orchestrator, RunOptions, StageReport

MODEL = "Qwen2.5-Coder-32B"
FIM_PROMPT = "<|fim_prefix|>This is an algorithm function.\n\ndef <|fim_suffix|>():\n<|fim_middle|>"
L2R_PROMPT = "This is an algorithm function.\n\ndef "

# n = 4: each request gets these four completions (the server honours stop, as vLLM does).
FIM_TEXTS = ["merge_intervals(a):", "binary_search", "class", ""]
L2R_TEXTS = ["binary_search(arr, x):", "quick_sort", "def class", "has_close_elements"]

GOOD_MERGE = (
    "intervals):\n    intervals.sort()\n    out = []\n    for start, end in intervals:\n"
    "        if out and start <= out[-1][1]:\n            out[-1][1] = max(out[-1][1], end)\n"
    "        else:\n            out.append([start, end])\n    return out\n"
    "\nprint(merge_intervals([[1, 3], [2, 4]]))\n"
)
GOOD_SEARCH = (
    "arr, x):\n    lo, hi = 0, len(arr)\n    while lo < hi:\n        mid = (lo + hi) // 2\n"
    "        if arr[mid] < x:\n            lo = mid + 1\n        else:\n            hi = mid\n"
    "    return lo\n"
)
UNDEFINED_NAME = "xs):\n    return undefined_helper(sorted(xs))\n"


def desc_text(k: int) -> str:
    return f"Return the sum of the squares of the first {k} odd numbers."


def desc_rule(k: int) -> dict[str, Any]:
    """Each description gets its own function (distinct code, so nothing is a duplicate)."""
    body = f"sum_odd_squares_{k}():\n    return sum((2 * i + 1) ** 2 for i in range({k}))\n"
    return {"prompt": f"first {k} odd numbers\\.\ndef $", "text": body}


def script(descs: int = 0) -> dict[str, Any]:
    """The server's rules for both stages (and for ``descs`` descriptions)."""
    return {
        "models": [MODEL],
        "rules": [
            {"prompt": r"^<\|fim_prefix\|>", "texts": FIM_TEXTS},
            {"prompt": r"^This is an algorithm function\.\n\ndef $", "texts": L2R_TEXTS},
            {"prompt": r"def merge_intervals\($", "text": GOOD_MERGE},
            {"prompt": r"def binary_search\($", "text": GOOD_SEARCH},
            {"prompt": r"def quick_sort\($", "text": UNDEFINED_NAME},
            *(desc_rule(k) for k in range(1, descs + 1)),
        ],
    }


def write_descs(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"d{k}", "desc": desc_text(k)}) + "\n"
                            for k in range(1, count + 1)))  # fmt: skip
    return path


def config_data(folder: Path, base_url: str, **sections: dict[str, Any]) -> dict[str, Any]:
    """A small, fast config writing under ``folder``; ``sections`` override keys."""
    data: dict[str, Any] = {
        "api": {"base_url": base_url, "timeout_s": 5.0, "backoff_base_s": 0.01,
                "backoff_max_s": 0.05},
        "namegen": {"requests_per_arm": 3},
        "filters": {"benchmarks": ["humaneval"]},
        "io": {
            "out_names_dir": str(folder / "names"),
            "out_code_dir": str(folder / "code"),
            "logs_dir": str(folder / "logs"),
            "concurrency": 4,
        },
    }  # fmt: skip
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return data


def write_config(folder: Path, base_url: str, **sections: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "datagen.yaml"
    path.write_text(yaml.safe_dump(config_data(folder, base_url, **sections)))
    return path


def make_config(folder: Path, base_url: str, **sections: dict[str, Any]) -> DatagenConfig:
    return load_config(write_config(folder, base_url, **sections))


def run(config: DatagenConfig, names: frozenset[str], **options: Any) -> list[StageReport]:
    """Run the orchestrator in-process (``options``: RunOptions fields)."""
    options.setdefault("benchmark_names", names)
    return asyncio.run(Orchestrator(config, RunOptions(**options)).run())


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def outputs(folder: Path) -> dict[str, str]:
    """The text of every final output under ``folder`` (names and code), by relative path."""
    found = {}
    for stage in ("names", "code"):
        for name in ("raw.jsonl", "filtered.jsonl", "scored.jsonl"):
            path = folder / stage / name
            if path.is_file():
                found[f"{stage}/{name}"] = path.read_text()
    return found


class FullDisk:
    """Stands in for os.write: accepts ``room`` bytes in all, then fails with ENOSPC."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, fd: int, data: bytes) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = os.write(fd, data[: self.room])
        self.room -= written
        return written
