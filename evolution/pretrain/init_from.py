"""Continued pretraining (``--init-from FOLDER``): a new run that starts from a model folder an
earlier ``evoselfcode pretrain`` made — its tokenizer and weights, a fresh optimiser and
learning-rate schedule — typically on new samples (another ``--fim-split``).

The token ids of the weights are the old tokenizer's, so the tokenizer is copied, not trained.
The held-out files stay held out across both stages: a file the new run evaluates on must not
be one the first stage trained on (by name or by content), or the held-out loss would flatter.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

from evolution.pretrain.config import ConfigError, PretrainConfig, PretrainError
from evolution.pretrain.data import MANIFEST as MANIFEST_FILE
from models.smoke import TRAINED_HERE_MARKER as FACTS_FILE

# The files of a tokenizer folder (the model's config.json is written anew for each run).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def init_folder(config: PretrainConfig) -> Path:
    """The ``--init-from`` folder, checked to be a model ``evoselfcode pretrain`` made."""
    folder = Path(config.init_from).expanduser()
    missing = [
        name
        for name in ("model.safetensors", FACTS_FILE, MANIFEST_FILE, *TOKENIZER_FILES[:2])
        if not (folder / name).is_file()
    ]
    if missing:
        raise ConfigError(
            f"--init-from {config.init_from}: not a model folder made by `evoselfcode pretrain` "
            f"(it lacks {', '.join(missing)})"
        )
    return folder


def copy_tokenizer(config: PretrainConfig, dest: Path) -> Any:
    """The init model's tokenizer, saved in ``dest`` as ``train_tokenizer`` would have."""
    from evolution.pretrain.model import qwen2_config
    from evolution.pretrain.tokenizer import load_tokenizer

    folder = init_folder(config)
    dest.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (folder / name).is_file():
            shutil.copy(folder / name, dest / name)
    tokenizer = load_tokenizer(dest)
    if len(tokenizer.get_vocab()) > config.vocab_size:
        raise ConfigError(
            f"--init-from {config.init_from}: its tokenizer has {len(tokenizer.get_vocab())} "
            f"tokens, more than --vocab-size {config.vocab_size}"
        )
    qwen2_config(config, tokenizer.get_vocab()).save_pretrained(dest)
    return tokenizer


def check_heldout(config: PretrainConfig, heldout: list[tuple[str, str]]) -> None:
    """Refuse a held-out file (``(name, sha256)`` pairs) that the init model trained on."""
    manifest = json.loads((init_folder(config) / MANIFEST_FILE).read_text(encoding="utf-8"))
    trained_names = {row[0] for row in manifest["files"]}
    trained_hashes = {row[1] for row in manifest["files"]}
    leaked = [name for name, sha in heldout if name in trained_names or sha in trained_hashes]
    if leaked:
        raise PretrainError(
            f"--init-from {config.init_from} trained on {len(leaked)} of this run's held-out "
            f"files (first: {leaked[0]}); hold out the same files (same --heldout-package and "
            "--heldout-percent, same Python packages)"
        )


def load_weights(model: Any, config: PretrainConfig) -> None:
    """Copy the init model's weights into ``model`` (the same shape, or a clear error)."""
    from safetensors.torch import load_file

    folder = init_folder(config)
    saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    ours = model.config.to_dict()
    keys = (
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "vocab_size",
        "tie_word_embeddings",
    )
    differ = [
        f"{k} {saved.get(k)!r} there, {ours.get(k)!r} here"
        for k in keys
        if saved.get(k) != ours.get(k)
    ]
    if differ:
        raise ConfigError(
            f"--init-from {config.init_from} has another shape ({'; '.join(differ)}): pass its "
            "shape flags (its evoselfcode-pretrain.json lists them)"
        )
    state = load_file(folder / "model.safetensors")
    state = {k: v.float() for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = {"lm_head.weight"} if model.config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise PretrainError(
            f"--init-from {config.init_from}: its weights do not fit this model (missing "
            f"{sorted(set(missing) - tied)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    model.tie_weights()


def init_facts(config: PretrainConfig) -> dict[str, Any]:
    """What the init model was: its commands (run into ``--init-from``'s folder) and tokens."""
    folder = init_folder(config)
    facts = json.loads((folder / FACTS_FILE).read_text(encoding="utf-8"))
    # A model made before --fim-split existed used the recipe now called "chars"; its
    # commands, run today, must say so.
    recipe = [] if "fim_split" in facts.get("config", {}) else ["--fim-split", "chars"]
    commands = []
    for command in facts.get("commands", []):
        words = shlex.split(command)
        words[2] = config.init_from  # `evoselfcode pretrain OUT …`: OUT is the init folder
        commands.append(shlex.join([*words[:3], *recipe, *words[3:]]))
    return {
        "commands": commands,
        "tokens_seen": facts.get("tokens_seen", 0),
        "train_seconds": facts.get("train_seconds", 0.0),
        "heldout_loss": facts.get("heldout_loss"),
    }
