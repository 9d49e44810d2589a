"""Datasets read through the Hugging Face ``datasets`` library (imported only when needed).

Reads the local cache only unless ``download=True``: without that, a dataset that is not cached
fails in about a second with a message saying how to get it, instead of retrying a network
that may not be there for half a minute.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from evaluation.errors import DatasetError, DatasetNotAvailable
from evaluation.tasks import Task, task_from_row

_LOCAL_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv"}
_MAX_BAD_ROWS_SHOWN = 5


def load_hub_tasks(
    source: str,
    *,
    dataset: str,
    config: str | None = None,
    split: str = "test",
    download: bool = False,
) -> list[Task]:
    """Tasks from a hub dataset id (``split`` of ``config``) or a local data file."""
    try:
        import datasets
        from datasets.exceptions import DatasetsError
    except ImportError as exc:
        raise DatasetNotAvailable(
            f"{source} is read through the `datasets` library, which is not installed: "
            "pip install datasets"
        ) from exc
    local = Path(source).expanduser()
    with _hub_offline(not download):
        try:
            if local.is_file():
                builder = _LOCAL_BUILDERS.get(local.suffix)
                if builder is None:
                    raise DatasetError(f"{local}: use a .jsonl, .json, .parquet or .csv file")
                rows = datasets.load_dataset(builder, data_files=str(local), split="train")
            else:
                rows = datasets.load_dataset(source, config, split=split)
        except DatasetError:
            raise
        except (OSError, DatasetsError) as exc:
            raise DatasetNotAvailable(_not_available(source, config, split, download, exc)) from exc
        except ValueError as exc:  # e.g. an unknown config or split name
            raise DatasetError(f"{source}: {exc}") from exc
    tasks: list[Task] = []
    bad: list[str] = []
    for index, row in enumerate(rows):
        try:
            tasks.append(task_from_row(row, dataset))  # type: ignore[arg-type]
        except DatasetError as exc:
            bad.append(f"row {index}: {exc}")
    if bad:
        raise DatasetError(
            f"{source} has {len(bad)} bad row(s): {'; '.join(bad[:_MAX_BAD_ROWS_SHOWN])}"
        )
    return tasks


def _not_available(
    source: str, config: str | None, split: str, download: bool, exc: BaseException
) -> str:
    from datasets import config as datasets_config

    args = ", ".join(repr(a) for a in (source, config) if a) + f", split={split!r}"
    if download:
        return f"could not download {source} from the Hugging Face hub: {exc}"
    return (
        f"{source} is not in the local Hugging Face cache ({datasets_config.HF_DATASETS_CACHE}). "
        f"Allow downloading (`evoselfcode eval --download`), or fetch it on a machine with "
        f'internet: python -c "import datasets; datasets.load_dataset({args})" and copy the '
        "cache folder here; or pass a local .jsonl file in HumanEval's shape with --dataset"
    )


@contextlib.contextmanager
def _hub_offline(offline: bool) -> Iterator[None]:
    """Switch the hub client to offline mode for the duration (process-wide flags)."""
    if not offline:
        yield
        return
    import datasets.config
    import huggingface_hub.constants

    saved = (huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE)
    huggingface_hub.constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved
