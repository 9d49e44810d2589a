"""LoRA fine-tuning in its own process, the adapter registry and gated promotion.

    evoselfcode finetune --progress json        # train, register, gate; JSON lines on stdout
    evoselfcode adapters list|show ID|promote ID|rollback|path

The pieces, in the order a run uses them::

    records.py     training pairs from the store (flagged ones left out); held-out split by hash
    formatting.py  pair → tokens and labels: chat (ChatML) and FIM, prompt masked, EOS kept
    dataset.py     examples for a run; too-long records skipped and counted
    batching.py    packing (best-fit) or length-grouped padding; the step-by-step plan
    modeling.py    base model + LoRA on every linear projection (QLoRA on CUDA)
    packed_attention.py  causal attention per packed sequence, on any device
    trainer.py     the accelerate-compatible loop: progress, checkpoints, stop, resume
    checkpoint.py  atomic, checksummed checkpoints
    registry.py    adapters with data hash, config, metrics, parent; promote/rollback
    gate.py        the promotion rule and its statistics (stats.py); promotion.py runs it
    serving.py     which adapter the editor serves, and the hot swap
    run.py         one run from start to end; cli.py the two commands

Importing this package loads neither torch nor transformers.
"""

from __future__ import annotations

from evolution.finetune.cli_options import finetune_argv, overrides_to_argv
from evolution.finetune.config import FinetuneConfig
from evolution.finetune.errors import FinetuneError
from evolution.finetune.registry import AdapterRecord, AdapterRegistry
from evolution.finetune.serving import (
    AdapterChoice,
    promoted_adapter_path,
    resolve_adapter_setting,
    swap_adapter,
    swap_to_promoted,
)

__all__ = [
    "AdapterChoice",
    "AdapterRecord",
    "AdapterRegistry",
    "FinetuneConfig",
    "FinetuneError",
    "finetune_argv",
    "overrides_to_argv",
    "promoted_adapter_path",
    "resolve_adapter_setting",
    "swap_adapter",
    "swap_to_promoted",
]
