"""The demo's inputs: a small Python project, batch instructions and a datagen config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

# The inline completion step asks for ghost text at the end of this line, the last of the file:
# an empty line after the last function, where a person starts the next one. (Inside a function
# body the shipped small model tends to start a nested `def` with its body at the wrong depth,
# which the syntax check rightly refuses: the demo asks where the model is worth showing.)
COMPLETION_CURSOR_LINE = ""
STATS_PY = (
    '''"""Small statistics helpers."""


def mean(values):
    # self-evolve: return 0.0 for an empty list instead of failing
    return sum(values) / len(values)


def spread(values):
    """Largest minus smallest value."""
    return max(values) - min(values)


def scaled(values):
    """Each value divided by the largest one."""
    largest = max(values)
    return [value / largest for value in values]


'''
    + COMPLETION_CURSOR_LINE
    + "\n"
)

# `evoselfcode evolve` instructions; the scripted generator answers each (server/demo/script.yaml).
BATCH_INSTRUCTIONS = [
    ("clamp", "Clamp a number into the closed range [low, high]."),
    ("palindrome", "Tell whether a text is a palindrome, ignoring case and punctuation."),
    ("word-counts", "Count how often each word occurs in a text, case-insensitively."),
    ("flatten", "Flatten a nested list of any depth into one list."),
    ("running-totals", "Return the running totals (cumulative sums) of a list of numbers."),
    (
        "close-elements",
        "Check if in given list of numbers, are any two numbers closer to each other than "
        "given threshold.",
    ),
    ("chunks", "Split a list into chunks of a given size; the last chunk may be shorter."),
]


def write_project(folder: Path) -> Path:
    """The workspace the editor opens; returns the file the demo edits."""
    folder.mkdir(parents=True, exist_ok=True)
    stats = folder / "stats.py"
    stats.write_text(STATS_PY, encoding="utf-8")
    return stats


def write_instructions(path: Path) -> Path:
    lines = [json.dumps({"id": key, "instruction": text}) for key, text in BATCH_INSTRUCTIONS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_datagen_config(path: Path, base_url: str, out: Path) -> Path:
    """configs/datagen.yaml pointed at the scripted server, with a few requests per arm."""
    shipped = Path(__file__).resolve().parents[2] / "configs" / "datagen.yaml"
    config: dict[str, Any] = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    config["api"]["base_url"] = base_url
    config["namegen"]["requests_per_arm"] = 4
    config["filters"]["benchmarks"] = ["humaneval"]
    config["io"].update(
        out_names_dir=str(out / "names"),
        out_code_dir=str(out / "code"),
        logs_dir=str(out / "logs"),
        concurrency=4,
    )
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
