"""The one configuration of a fine-tuning run.

Every field carries its help text, CLI group and bounds in ``dataclasses.field(metadata=...)``;
the same metadata drives ``evoselfcode finetune --help`` (see ``cli_options.py``) and
:meth:`FinetuneConfig.validate`, whose errors name the field and the bad value. Defaults agree
with the ``evoselfcode.finetune.*`` settings in package.json (a test checks it).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evaluation.tasks import PROMPT_FORMATS
from evolution.finetune.errors import ConfigError
from models.chat import DEFAULT_SYSTEM_PROMPT
from models.paths import DEFAULT_MODEL

# Every linear projection of a Qwen2 decoder layer: LoRA on all of them learns most
# ("LoRA Learns Less and Forgets Less"; peft's default would be q/v only).
ALL_LINEAR_PROJECTIONS = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)

# Qwen2.5-Coder-Instruct's default system prompt, as the model runtime writes it; serving uses
# the same one (``evoselfcode.chat.systemPrompt``), so training prompts match serving prompts.
QWEN_DEFAULT_SYSTEM_PROMPT = DEFAULT_SYSTEM_PROMPT

GROUPS = {
    "model": "model and device",
    "data": "training data",
    "lora": "LoRA",
    "optim": "optimisation",
    "run": "run folder and checkpoints",
    "gate": "promotion gate",
}


def _field(
    default: Any,
    help: str,
    group: str,
    *,
    choices: tuple[str, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> Any:
    """A config field; ``above`` is an exclusive lower bound, ``minimum``/``maximum`` inclusive."""
    metadata = {"help": help, "group": group, "choices": choices}
    metadata.update(minimum=minimum, maximum=maximum, above=above)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class FinetuneConfig:
    """Hyperparameters and settings of one LoRA fine-tuning run (validated on construction)."""

    # --- model and device
    base_model: str = _field(
        DEFAULT_MODEL,
        "base model: a folder, a bare name under the weights folder, or a hub id in the cache",
        "model",
    )
    models_dir: str = _field("", "weights folder for bare model names (empty: default)", "model")
    device: str = _field(
        "auto",
        "training device (auto: CUDA, then MPS, then CPU)",
        "model",
        choices=("auto", "cpu", "cuda", "mps"),
    )
    dtype: str = _field(
        "auto",
        "base weight dtype (auto: as serving, bfloat16 where the device has it natively)",
        "model",
        choices=("auto", "float32", "bfloat16", "float16"),
    )
    threads: int = _field(
        0,
        "CPU threads for training (0: torch's default, every core); fewer leave room for the "
        "editor's completions",
        "model",
        minimum=0,
    )
    quantization: str = _field(
        "none", "4bit: QLoRA via bitsandbytes (CUDA only)", "model", choices=("none", "4bit")
    )
    # --- data
    max_length: int = _field(
        1024,
        "longest training sequence in tokens; longer records are skipped and counted",
        "data",
        minimum=32,
        maximum=32768,
    )
    fim_share: float = _field(
        0.2,
        "share of training examples in fill-in-the-middle format (keeps infill skill; "
        "1 = FIM only)",
        "data",
        minimum=0.0,
        maximum=1.0,
    )
    eval_share: float = _field(
        0.1,
        "share of records held out (by record hash) for the promotion gate's loss comparison",
        "data",
        above=0.0,
        maximum=0.5,
    )
    min_records: int = _field(
        16, "refuse to train on fewer usable records than this", "data", minimum=2
    )
    packing: bool = _field(
        True,
        "pack several examples per row (attention kept within each example) instead of padding",
        "data",
    )
    group_by_length: bool = _field(
        True, "without packing: batch examples of similar length (less padding)", "data"
    )
    system_prompt: str = _field(
        QWEN_DEFAULT_SYSTEM_PROMPT, "system prompt of the chat examples (as serving)", "data"
    )
    workspace: str = _field(
        "",
        "train a completion adapter on this workspace folder's own Python files (FIM in the "
        "repo-level format, files held out by path) instead of the training pairs; it gets a "
        "registry of its own, <data dir>/adapters/completion/<folder>-<hash>",
        "data",
    )
    workspace_fim_variants: int = _field(
        4,
        "with --workspace: FIM examples per chunk of each training file, each with other "
        "split points (a chunk gives one middle; more variants, more of the file learned)",
        "data",
        minimum=1,
        maximum=64,
    )
    # --- LoRA
    lora_rank: int = _field(16, "LoRA rank", "lora", minimum=1, maximum=512)
    lora_alpha: int = _field(32, "LoRA alpha (scaling = alpha / rank)", "lora", minimum=1)
    lora_dropout: float = _field(
        0.0,
        "dropout on the LoRA path (on a CPU it costs as much as the base model's matrix "
        "products; the promotion gate, not dropout, guards against overfitting)",
        "lora",
        minimum=0.0,
        maximum=0.9,
    )
    target_modules: tuple[str, ...] = _field(
        ALL_LINEAR_PROJECTIONS, "module names that get LoRA (comma-separated)", "lora"
    )
    # --- optimisation
    epochs: float = _field(
        3.0, "passes over the training examples", "optim", minimum=0.1, maximum=100
    )
    learning_rate: float = _field(2e-4, "peak learning rate", "optim", above=0.0, maximum=1.0)
    batch_size: int = _field(
        4,
        "sequences per micro-batch (packed into one row with packing; lower it on out-of-memory)",
        "optim",
        minimum=1,
        maximum=512,
    )
    gradient_accumulation: int = _field(
        4, "micro-batches per optimizer step", "optim", minimum=1, maximum=1024
    )
    warmup_ratio: float = _field(
        0.03,
        "share of steps with a linear learning-rate warm-up",
        "optim",
        minimum=0.0,
        maximum=0.5,
    )
    lr_scheduler: str = _field(
        "cosine",
        "learning-rate schedule after warm-up",
        "optim",
        choices=("cosine", "linear", "constant"),
    )
    weight_decay: float = _field(0.0, "AdamW weight decay", "optim", minimum=0.0, maximum=1.0)
    max_grad_norm: float = _field(1.0, "gradient clipping norm (0: off)", "optim", minimum=0.0)
    gradient_checkpointing: bool = _field(
        False, "recompute activations in the backward pass: far less memory, ~30% slower", "optim"
    )
    seed: int = _field(0, "seed for shuffling, FIM spans and dropout", "optim", minimum=0)
    # --- run folder and checkpoints
    save_path: str = _field(
        "", "run folder (empty: <data dir>/finetune/<run id>); refused if it exists", "run"
    )
    checkpoint_every: int = _field(
        50, "optimizer steps between checkpoints (also on stop and at the end)", "run", minimum=1
    )
    keep_checkpoints: int = _field(
        2, "checkpoints kept (older ones deleted)", "run", minimum=1, maximum=100
    )
    # --- promotion gate
    auto_promote: bool = _field(
        True, "after training, run the gate and promote the adapter only if it is not worse", "gate"
    )
    eval_dataset: str = _field(
        "humaneval",
        "the tasks both models run in the gate's pass-rate comparison: humaneval, "
        "composed-heldout (the task family's held-out split, as bench/efficacy_loop.py scores "
        "self-evolution), mbpp, or a local JSONL file of HumanEval-shaped rows",
        "gate",
    )
    eval_prompt_format: str = _field(
        "auto",
        "how the gate prompts a task: auto (by the model), base (continue the code) or "
        "instruct (a chat turn, worded as the training instructions are)",
        "gate",
        choices=PROMPT_FORMATS,
    )
    eval_tasks: int = _field(
        40, "tasks of eval_dataset in the gate, the first N (0: all)", "gate", minimum=0
    )
    eval_max_new_tokens: int = _field(
        512, "longest completion in the gate, in tokens", "gate", minimum=16, maximum=2048
    )
    loss_margin: float = _field(
        0.02,
        "refuse when held-out loss may be worse by more than this (nats/token, upper bound)",
        "gate",
        minimum=0.0,
    )
    pass_rate_margin: float = _field(
        0.05,
        "refuse when pass@1 on eval_dataset may be lower by more than this (fraction, lower bound)",
        "gate",
        minimum=0.0,
        maximum=1.0,
    )
    confidence: float = _field(
        0.95, "one-sided confidence of the gate's bounds", "gate", minimum=0.5, maximum=0.999
    )
    gate_holes: int = _field(
        1000,
        "with --workspace: single-line holes drawn from the held-out files (plus one per "
        "accepted completion in them) that baseline and candidate complete in the gate",
        "gate",
        minimum=10,
    )
    gate_general_holes: int = _field(
        300,
        "with --workspace: holes from the model's held-out standard-library files, the "
        "gate's check that general code did not get worse",
        "gate",
        minimum=0,
    )
    general_margin: float = _field(
        0.01,
        "with --workspace: refuse when edit similarity on general code is lower by more than "
        "this (0.01 = 1 point)",
        "gate",
        minimum=0.0,
        maximum=1.0,
    )
    gate_infill_tasks: int = _field(
        100,
        "with --workspace: the first N humaneval-infill tasks (single-line FIM, scored by "
        "running the tests) that baseline and candidate run in the gate, a second check that "
        "general code did not get worse (0: off)",
        "gate",
        minimum=0,
    )
    infill_margin: float = _field(
        0.02,
        "with --workspace: refuse when pass@1 on humaneval-infill is lower by more than this "
        "(0.02 = 2 points)",
        "gate",
        minimum=0.0,
        maximum=1.0,
    )

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, (list, str)):
            modules = self.target_modules
            if isinstance(modules, str):
                modules = [part.strip() for part in modules.split(",") if part.strip()]
            object.__setattr__(self, "target_modules", tuple(modules))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad field and its value."""
        hints = _type_hints()
        for f in dataclasses.fields(self):
            _check_field(f, hints[f.name], getattr(self, f.name))
        if not self.target_modules:
            raise ConfigError("target_modules must name at least one module, got an empty list")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, base: FinetuneConfig | None = None):
        """Build from a mapping with snake_case or camelCase keys (settings, YAML, JSON).

        Unknown keys are an error that lists the known ones: a typo must not be ignored.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        changes = {}
        for key, value in values.items():
            name = camel_to_snake(key)
            if name not in known:
                raise ConfigError(
                    f"unknown fine-tuning setting {key!r}; known: {', '.join(sorted(known))}"
                )
            changes[name] = value
        return dataclasses.replace(base or cls(), **changes)

    def training_fields(self) -> dict[str, Any]:
        """Fields that change what is trained (a resumed run must not change them)."""
        skip = {"save_path", "checkpoint_every", "keep_checkpoints", "device", "threads"}
        return {k: v for k, v in self.to_dict().items() if k not in skip and not _gate_field(k)}


def camel_to_snake(name: str) -> str:
    """``learningRate`` -> ``learning_rate``; snake_case passes through."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _gate_field(name: str) -> bool:
    return FIELD_GROUPS.get(name) == "gate"


def _type_hints() -> dict[str, Any]:
    return typing.get_type_hints(FinetuneConfig)


def _check_field(f: dataclasses.Field, expected: Any, value: Any) -> None:
    name, meta = f.name, f.metadata
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if expected is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if expected is str and not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {value!r}")
    if typing.get_origin(expected) is tuple:
        if not isinstance(value, tuple) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{name} must be a list of names, got {value!r}")
        return
    if meta["choices"] and value not in meta["choices"]:
        raise ConfigError(f"{name} must be one of {', '.join(meta['choices'])}; got {value!r}")
    if isinstance(value, (int, float)):
        if value != value:  # NaN
            raise ConfigError(f"{name} must be a number, got {value!r}")
        if meta["minimum"] is not None and value < meta["minimum"]:
            raise ConfigError(f"{name} must be ≥ {meta['minimum']}, got {value!r}")
        if meta["maximum"] is not None and value > meta["maximum"]:
            raise ConfigError(f"{name} must be ≤ {meta['maximum']}, got {value!r}")
        if meta["above"] is not None and value <= meta["above"]:
            raise ConfigError(f"{name} must be > {meta['above']}, got {value!r}")


FIELD_GROUPS = {f.name: f.metadata["group"] for f in dataclasses.fields(FinetuneConfig)}
