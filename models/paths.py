"""Where EvoSelfCode keeps things: the weights folder and the data folder.

The data folder holds everything the loop produces::

    {data_dir}/training/pairs.jsonl         training-data store (append-only JSONL)
    {data_dir}/evolve/                      state of batch `evoselfcode evolve` runs (resume)
    {data_dir}/adapters/registry.json       adapter registry; one folder per adapter beside it
    {data_dir}/finetune/<run_id>/           fine-tuning runs: checkpoints, progress, logs
    {data_dir}/eval/<model_version>/<run>/  evaluation results.jsonl, summary.json, report.html
    {data_dir}/logs/                        server and command logs
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "EVOSELFCODE_DATA_DIR"
# The completion model this repository ships in models/evoselfcode-small/: a small base model
# trained on this project's machines by `evoselfcode pretrain` (its README says what it is).
# Real models are one setting away (e.g. `Qwen2.5-Coder-1.5B` under the weights folder).
DEFAULT_MODEL = "evoselfcode-small"
# Its chat variant in models/evoselfcode-small-chat/ (`evoselfcode chat-tune`), the default
# instruct model of "Generate code from this instruction".
DEFAULT_CHAT_MODEL = "evoselfcode-small-chat"
MODELS_DIR_ENV = "EVOSELFCODE_MODELS_DIR"


def default_models_dir() -> Path:
    """The weights folder for bare model names: ``$EVOSELFCODE_MODELS_DIR`` or this package's
    folder.

    In a checkout that is the repository's ``models/`` (user-placed subfolders are git-ignored),
    the seed prototype's convention, e.g. ``models/Qwen2.5-Coder-1.5B-Instruct/``.
    """
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env).expanduser() if env else Path(__file__).resolve().parent


def default_data_dir() -> Path:
    """``$EVOSELFCODE_DATA_DIR``, else ``$XDG_DATA_HOME/evoselfcode``
    (``~/.local/share/evoselfcode``)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "evoselfcode"


def resolve_data_dir(setting: str | os.PathLike[str] | None) -> Path:
    """The data folder from a setting or flag; empty means the default."""
    return Path(setting).expanduser() if setting else default_data_dir()
