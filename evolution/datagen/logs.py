"""The run's log file under ``io.logs_dir``: failed requests, retries, resumes, set-aside tails.

The clients never log API keys (``evolution.clients`` holds them as ``Secret`` and scrubs them
from error texts), and this package logs the endpoint's URL and model, never its headers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

# The packages whose records the run's log file takes.
_LOGGERS = ("evolution", "evaluation", "httpx")


@contextlib.contextmanager
def run_log(logs_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Log to ``{logs_dir}/datagen-{time}-{pid}.log`` (INFO and up) for the duration.

    The records go to the file only: on the terminal, retries and warnings would break the
    progress bar, and the summary says where the log is.
    """
    folder = Path(logs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"datagen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING if name == "httpx" else logging.INFO)
        logger.propagate = False
    try:
        yield path
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        handler.close()
