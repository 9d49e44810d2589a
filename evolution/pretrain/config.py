"""The one configuration of a pretraining run: corpus, tokenizer, samples, shape, optimisation.

Every field carries its help text, group, bounds and whether a resumed run may change it, in
``dataclasses.field(metadata=...)``; the same metadata builds ``evoselfcode pretrain --help``
(``cli.py``) and :meth:`PretrainConfig.validate`, whose errors name the field and the bad value.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

# Recipes for FIM split points (evolution/pretrain/samples.py says what each does).
FIM_SPLITS = ("chars", "editor")

GROUPS = {
    "corpus": "corpus (Python source found on this machine)",
    "samples": "tokenizer and training samples",
    "model": "model shape (a Qwen2 decoder)",
    "optim": "optimisation",
    "run": "run budget, device and checkpoints (may change between slices)",
}


class PretrainError(Exception):
    """Base of the package's errors; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 1


class ConfigError(PretrainError, ValueError):
    exit_code = 2


def _field(
    default: Any,
    help: str,
    group: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    metadata = {"help": help, "group": group, "minimum": minimum, "maximum": maximum}
    metadata["choices"] = choices
    return field(default=default, metadata=metadata)


def default_threads() -> int:
    """Every core but one, so the editor's completions and the shell stay responsive."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class PretrainConfig:
    # --- corpus
    stdlib: str = _field("", "standard library folder (default: this interpreter's)", "corpus")
    site_packages: str = _field(
        "", "site-packages folder (default: this interpreter's; 'none' skips it)", "corpus"
    )
    exclude_packages: str = _field(
        "torch,torchgen,functorch",
        "installed packages left out (comma-separated): torch's Python is largely generated "
        "operator tables and bindings, 46 MB that would drown the rest",
        "corpus",
    )
    heldout_package: str = _field(
        "yaml",
        "one installed pure-Python package held out whole for evaluation (PyYAML: no copy or "
        "fork of it is installed, unlike httpx's fork httpx2)",
        "corpus",
    )
    heldout_percent: float = _field(
        5.0,
        "share of standard-library files held out (by a hash of the path)",
        "corpus",
        minimum=0.0,
        maximum=50.0,
    )
    max_package_mib: float = _field(
        4.0,
        "at most this much cleaned source per installed package (a hash-ordered sample of its "
        "files), so that big libraries do not crowd out the rest and the token file stays "
        "under 64 MiB",
        "corpus",
        minimum=0.01,
    )
    max_file_kib: int = _field(512, "files larger than this are left out", "corpus", minimum=1)
    # --- tokenizer and samples
    vocab_size: int = _field(
        8192, "BPE vocabulary (special tokens included)", "samples", minimum=300, maximum=65536
    )
    context: int = _field(512, "training sequence length in tokens", "samples", minimum=16)
    fim_rate: float = _field(
        0.5,
        "share of samples in fill-in-the-middle (PSM) form",
        "samples",
        minimum=0.0,
        maximum=1.0,
    )
    fim_split: str = _field(
        "editor",
        "where FIM middles start: 'chars' at uniform characters (Qwen's recipe), 'editor' "
        "mostly at word and line starts, where an editor asks (see evolution/pretrain/samples.py)",
        "samples",
        choices=FIM_SPLITS,
    )
    repo_rate: float = _field(
        0.2,
        "share of samples in the repo-level form (other files of the same package first)",
        "samples",
        minimum=0.0,
        maximum=1.0,
    )
    seed: int = _field(
        0, "seed of the sample layout, the initial weights and the data order", "samples"
    )
    init_from: str = _field(
        "",
        "continue from this model folder (one `evoselfcode pretrain` made): its weights and "
        "tokenizer, a fresh optimiser and schedule; the shape and held-out files must match",
        "samples",
    )
    # --- model
    hidden_size: int = _field(256, "hidden size", "model", minimum=16)
    layers: int = _field(6, "decoder layers", "model", minimum=1)
    heads: int = _field(4, "attention heads (head size = hidden / heads)", "model", minimum=1)
    kv_heads: int = _field(2, "key/value heads (grouped-query attention)", "model", minimum=1)
    intermediate_size: int = _field(768, "MLP width", "model", minimum=16)
    # --- optimisation
    batch_size: int = _field(8, "sequences per optimiser step", "optim", minimum=1)
    lr: float = _field(2e-3, "peak learning rate (AdamW)", "optim", minimum=0.0)
    min_lr_ratio: float = _field(
        0.1, "final learning rate / peak (cosine decay)", "optim", minimum=0.0, maximum=1.0
    )
    warmup_steps: int = _field(200, "linear warm-up steps", "optim", minimum=0)
    weight_decay: float = _field(0.1, "AdamW weight decay (not on norms)", "optim", minimum=0.0)
    grad_clip: float = _field(1.0, "gradient norm clip (0: off)", "optim", minimum=0.0)
    tokens: int = _field(
        100_000_000,
        "tokens the whole run trains on (about 4 passes over the default corpus); sets the "
        "cosine schedule; may be changed on resume",
        "optim",
        minimum=1,
    )
    # --- run
    max_tokens: int = _field(
        0, "stop this slice after this many more tokens (0: no limit)", "run", minimum=0
    )
    max_minutes: float = _field(
        0.0, "stop this slice after this many minutes (0: no limit)", "run", minimum=0.0
    )
    device: str = _field("cpu", "training device", "run", choices=("cpu", "cuda", "auto"))
    threads: int = _field(0, "CPU threads (0: every core but one)", "run", minimum=0)
    compile: bool = _field(
        False,
        "torch.compile the model: measured 9%% faster on this 2-core CPU (1 thread), after "
        "~30 s of compiling per slice; needs a C++ compiler",
        "run",
    )
    eval_every: int = _field(250, "held-out loss every this many steps", "run", minimum=1)
    eval_batches: int = _field(8, "batches of held-out windows per evaluation", "run", minimum=1)
    checkpoint_every: int = _field(250, "checkpoint every this many steps", "run", minimum=1)
    keep_checkpoints: int = _field(2, "checkpoints kept (the newest)", "run", minimum=1)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if meta["minimum"] is not None and value < meta["minimum"]:
                raise ConfigError(f"{f.name} must be at least {meta['minimum']}, got {value!r}")
            if meta["maximum"] is not None and value > meta["maximum"]:
                raise ConfigError(f"{f.name} must be at most {meta['maximum']}, got {value!r}")
            if meta["choices"] and value not in meta["choices"]:
                raise ConfigError(f"{f.name} must be one of {meta['choices']}, got {value!r}")
        if self.hidden_size % self.heads or self.heads % self.kv_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must be a multiple of heads ({self.heads}), "
                f"and heads a multiple of kv_heads ({self.kv_heads})"
            )
        if (self.hidden_size // self.heads) % 2:
            raise ConfigError(f"the head size {self.hidden_size // self.heads} must be even (RoPE)")

    @property
    def cpu_threads(self) -> int:
        return self.threads or default_threads()

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.context

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fixed(self) -> dict[str, Any]:
        """The fields a resumed run must keep: everything but the run group and ``tokens``."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata["group"] != "run" and f.name != "tokens"
        }

    def data_fields(self) -> dict[str, Any]:
        """The fields that decide the corpus, tokenizer and token file."""
        groups = ("corpus", "samples")
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata["group"] in groups
        }
