"""Packed weights for CPU inference: every ``nn.Linear`` of a model as float16 or int8, in place.

Decoding one token reads every weight once, so on a CPU its speed is bound by memory
bandwidth: float16 weights read half of float32's bytes, int8 a quarter. Both use fbgemm's
packed matrices (the kernels behind ``torch.ao.quantization.quantize_dynamic``, without its
deprecated module swap); activations stay float32 between layers, and prefill runs as fast
as float32's (fbgemm widens the weights inside its GEMM).

- ``float16`` (quantization ``16bit``, what ``auto`` picks on a CPU): weights rounded to
  float16, activations exact; greedy output unchanged (100% of continuations identical on
  the shipped small model).
- ``int8`` (``8bit``): weights per output channel (symmetric); each product also quantizes
  its input on the fly, with ONE scale for the whole input tensor and 7 bits on AVX2 without
  VNNI. That rounding of the activations costs agreement: 44% of 16 greedy continuations of
  the small model stayed identical (llama.cpp's Q8_0, with a scale per 32 values: 88%).

bench/cpu_latency.py measures speed and agreement of both against llama.cpp. Other torch
CPU kernels measured slower for decoding (random weights of Qwen2.5-Coder-0.5B's shape, one
thread, the matrix-vector products of the 24 layers, a loaded 2-core AVX2 machine): float32
405 ms, fbgemm int8 119 ms, int8 weight-only (``_weight_int8pack_mm``, bfloat16 activations)
257 ms, int4 weight-only (``_weight_int4pack_mm_for_cpu``) 287 ms, ``torch._int_mm`` 2 s.

``PackedLinear`` stays an ``nn.Linear`` (same name, ``in_features``, ``out_features``), so
transformers' PEFT integration still wraps it with float LoRA layers: a promoted adapter
applies on top of the packed base. fbgemm's packed copy is the only copy of the weights;
``weight`` is an empty int8 placeholder (PEFT reads its device, and casts LoRA weights to its
dtype only when that is a float type: they stay float32) and ``unpacked_weight()`` gives the
matrix back for inspection.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch  # this module is imported only when a model's weights are packed

from models.device import PackedKind
from models.errors import UnsupportedError


def pack_linear_layers(hf_model: Any, kind: PackedKind) -> int:
    """Replace every float ``nn.Linear`` in ``hf_model`` by a ``PackedLinear``; return how many.

    The vocabulary projection of a tied-embedding model is packed too (27% of the weights of
    Qwen2.5-Coder-0.5B); the embedding lookup keeps its float rows.
    """
    engines = torch.backends.quantized.supported_engines
    if "fbgemm" not in engines and "qnnpack" not in engines:
        raise UnsupportedError(
            f"{kind} CPU weights need torch's fbgemm (x86) or qnnpack (Arm) kernels, which "
            f"this torch build ({torch.__version__}) lacks; set quantization to 'none'"
        )
    targets = [
        (name, module)
        for name, module in hf_model.named_modules()
        if type(module) is torch.nn.Linear and module.weight.dtype.is_floating_point
    ]
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = hf_model.get_submodule(parent_name) if parent_name else hf_model
        setattr(parent, child, PackedLinear.from_linear(module, kind))
    return len(targets)


def _reduce_range() -> bool:
    """fbgemm without VNNI sums pairs of u8*s8 products in 16 bits: 7-bit activations."""
    return torch.backends.quantized.engine in ("fbgemm", "x86")


class PackedLinear(torch.nn.Linear):
    """``y = x W^T + b`` with ``W`` packed by fbgemm as int8 or float16; ``x`` float32."""

    def __init__(self, in_features: int, out_features: int, kind: PackedKind) -> None:
        torch.nn.Module.__init__(self)  # no float weight allocated
        self.in_features = in_features
        self.out_features = out_features
        self.kind = kind
        self._packed: Any = None
        self._reduce_range = _reduce_range()

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear, kind: PackedKind) -> PackedLinear:
        weight = linear.weight.detach().float()
        bias = None if linear.bias is None else linear.bias.detach().float()
        module = cls(linear.in_features, linear.out_features, kind)
        if kind == "int8":
            scale = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-12).double()
            zero = torch.zeros_like(scale, dtype=torch.long)
            with warnings.catch_warnings():
                # quantized tensors are deprecated for a future torch; torch is pinned (Makefile
                # TORCH_SPEC) and fbgemm's packed linear is still its fastest int8 CPU kernel
                warnings.filterwarnings("ignore", ".*quantize_per_channel", UserWarning)
                qweight = torch.quantize_per_channel(weight, scale, zero, 0, torch.qint8)
            module._packed = torch.ops.quantized.linear_prepack(qweight, bias)
        elif kind == "float16":
            module._packed = torch.ops.quantized.linear_prepack_fp16(weight, bias)
        else:
            raise ValueError(f"kind must be 'int8' or 'float16', got {kind!r}")
        # a placeholder: the packed copy is the only one (a second would double the memory)
        placeholder = torch.empty(0, dtype=torch.int8)
        module.weight = torch.nn.Parameter(placeholder, requires_grad=False)
        module.bias = None if bias is None else torch.nn.Parameter(bias, requires_grad=False)
        return module

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        x = (input if input.dtype == torch.float32 else input.float()).contiguous()
        if self.kind == "int8":
            y = torch.ops.quantized.linear_dynamic(x, self._packed, reduce_range=self._reduce_range)
        else:
            y = torch.ops.quantized.linear_dynamic_fp16(x, self._packed)
        return y.to(input.dtype)

    def unpacked_weight(self) -> torch.Tensor:
        """The weight as the product uses it, ``[out, in]`` in float32."""
        if self.kind == "int8":
            qweight, _ = torch.ops.quantized.linear_unpack(self._packed)
            return qweight.dequantize()
        weight, _ = torch.ops.quantized.linear_unpack_fp16(self._packed)
        return weight.float()

    def packed_bytes(self) -> int:
        """Bytes of weights one product reads."""
        return self.in_features * self.out_features * (1 if self.kind == "int8" else 2)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, {self.kind}"
