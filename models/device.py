"""Device, dtype and quantization choices for loading a local model."""

from __future__ import annotations

import importlib.util
import platform
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from models.errors import InvalidRequestError, UnsupportedError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "bfloat16", "float16", "float32")
QUANTIZATIONS = ("auto", "none", "16bit", "8bit", "4bit")


def choose_device(requested: str = "auto") -> str:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an explicit choice must exist."""
    import torch

    if requested not in DEVICES and not requested.startswith("cuda:"):
        raise InvalidRequestError(f"device must be one of {DEVICES}, got {requested!r}")
    cuda = torch.cuda.is_available()
    mps = torch.backends.mps.is_available()
    if requested == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if requested.startswith("cuda") and not cuda:
        raise UnsupportedError(
            "device 'cuda' was requested but torch sees no CUDA GPU on this machine "
            f"(torch {torch.__version__}); use device 'auto' or 'cpu'"
        )
    if requested == "mps" and not mps:
        raise UnsupportedError("device 'mps' was requested but Apple MPS is not available here")
    return requested


def choose_dtype(requested: str, device: str) -> torch.dtype:
    """``auto``: bfloat16 where the device computes it natively, else float16 (MPS) or float32.

    On CPUs with AVX512-BF16 or AMX, bfloat16 prefill measured about 4x faster than float32
    (bench-sized model, 1,000 tokens); without them bfloat16 is emulated and slower.
    """
    import torch

    if requested not in DTYPES:
        raise InvalidRequestError(f"dtype must be one of {DTYPES}, got {requested!r}")
    if requested != "auto":
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU has bfloat16 instructions (x86 AVX512-BF16/AMX-BF16, Arm BF16)."""
    cpuinfo = Path("/proc/cpuinfo")
    if platform.system() == "Linux" and cpuinfo.is_file():
        flags = cpuinfo.read_text(encoding="utf-8", errors="replace")
        return any(flag in flags for flag in (" avx512_bf16", " amx_bf16", " bf16"))
    return False


# Below this size of float weights ``auto`` keeps them as they are on a CPU: they mostly stay
# in the CPU's caches between tokens, so fewer bytes buy little. Measured on a loaded 2-core
# AVX2 CPU with 32 MiB of L3, decode ms/token in float32 vs float16: the shipped 27 MB model
# 6.3 vs 5.5, the 107 MB bench shape 32 vs 15, Qwen2.5-Coder-0.5B's 2.5 GB 128 vs 82.
CPU_PACKED_MIN_WEIGHT_BYTES = 64 * 2**20
# quantization values packed by ``models.cpu_weights`` on a CPU, and how
PackedKind = Literal["float16", "int8"]
CPU_PACKED: dict[str, PackedKind] = {"16bit": "float16", "8bit": "int8"}


def choose_quantization(requested: str, device: str, weight_bytes: int | None = None) -> str:
    """``auto``: float16 weights (``16bit``, ``models.cpu_weights``) on a CPU for models of
    at least ``CPU_PACKED_MIN_WEIGHT_BYTES`` (``weight_bytes``: their files; None counts as
    large), the weights as loaded elsewhere.

    Decoding on a CPU is bound by the bytes of weights read per token: float16 halves them
    with no loss measured in greedy output; ``8bit`` (int8) is faster still but changes
    greedy output noticeably, so it is a choice, not the default (bench/cpu_latency.py
    measures both against llama.cpp). On a GPU the dtype is already 16-bit.
    """
    if requested not in QUANTIZATIONS:
        raise InvalidRequestError(f"quantization must be one of {QUANTIZATIONS}, got {requested!r}")
    if requested != "auto":
        return requested
    large = weight_bytes is None or weight_bytes >= CPU_PACKED_MIN_WEIGHT_BYTES
    return "16bit" if device == "cpu" and large else "none"


def quantization_config(quantization: str, device: str) -> Any | None:
    """A bitsandbytes config for 8/4-bit loading on CUDA, or None (``none``; ``16bit`` and
    ``8bit`` on a CPU are applied after loading by ``models.cpu_weights``). ``quantization`` is
    already chosen: ``auto`` goes through ``choose_quantization`` first."""
    if quantization not in QUANTIZATIONS or quantization == "auto":
        raise InvalidRequestError(
            f"quantization must be one of {QUANTIZATIONS[1:]}, got {quantization!r}"
        )
    if quantization == "none" or (quantization in CPU_PACKED and device == "cpu"):
        return None
    if quantization == "16bit":
        raise UnsupportedError(
            f"16bit packs float16 weights for a CPU; this model would run on '{device}', where "
            "the dtype setting picks 16-bit weights. Set quantization to 'auto' or 'none'."
        )
    if not device.startswith("cuda"):
        cpu_note = (
            " On a CPU use '8bit' or '16bit' (torch's fbgemm kernels): torch's 4-bit CPU"
            " kernels measured slower than int8 for decoding (models/cpu_weights.py)."
            if device == "cpu"
            else ""
        )
        raise UnsupportedError(
            f"{quantization} loading uses bitsandbytes, which needs a CUDA GPU; this model would "
            f"run on '{device}'.{cpu_note} Set quantization to 'auto' or 'none'."
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UnsupportedError(
            f"{quantization} loading needs bitsandbytes: pip install 'evoselfcode[cuda]'"
        )
    import torch
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16,
    )


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
