"""The transformers engine under ``LocalModel``: forward passes, KV caches and LoRA adapters of
a transformers causal LM in this process.

An engine is what the decoding loops (``models.decode``) need from the weights: ``forward``,
``forward_tail`` (speculation's draft check), ``new_cache``; plus the adapters and the end
of text ids. ``models.llama_engine`` is the other one, on llama.cpp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from models.adapters import AdapterSet

if TYPE_CHECKING:
    import torch


class TorchEngine:
    """A transformers model: batched (left-padded rows share a forward) and fine-tunable."""

    batched = True

    def __init__(self, hf_model: Any, device: str) -> None:
        self.hf_model = hf_model.eval()
        self.device = device
        eos = hf_model.generation_config.eos_token_id
        self.eos_ids: list[int] = [eos] if isinstance(eos, int) else list(eos or ())
        self.adapters = AdapterSet(hf_model)

    def new_cache(self) -> Any:
        """transformers' ``DynamicCache`` whose full-attention layers grow in place
        (``growing_layer``) instead of copying all their keys and values on every token."""
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cache = DynamicCache(config=self.hf_model.config)
        grows = growing_layer_class()
        cache.layers = [grows() if type(x) is DynamicLayer else x for x in cache.layers]
        return cache

    def stack_caches(self, caches: list[Any], width: int) -> Any:
        """One cache of all the one-row ``caches``, each left-padded with zeros to ``width``
        positions (the attention mask hides the padding)."""
        import torch

        stacked = self.new_cache()
        for layer in range(len(caches[0].layers)):
            keys, values = [], []
            for cache in caches:
                k, v = cache.layers[layer].keys, cache.layers[layer].values  # [1, H, T, D]
                pad = (0, 0, width - k.shape[-2], 0)
                keys.append(torch.nn.functional.pad(k, pad))
                values.append(torch.nn.functional.pad(v, pad))
            stacked.update(torch.cat(keys), torch.cat(values), layer)
        return stacked

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any,
        attention_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """The last position's logits ``[B, vocab]``."""
        return self._logits(input_ids, position_ids, cache, attention_mask, 1)[:, -1]

    def forward_tail(
        self, input_ids: torch.Tensor, position_ids: torch.Tensor, cache: Any, keep: int
    ) -> torch.Tensor:
        """Logits of the last ``keep`` fed positions ``[B, keep, vocab]`` (a draft's check)."""
        return self._logits(input_ids, position_ids, cache, None, keep)

    def _logits(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        cache: Any,
        attention_mask: torch.Tensor | None,
        keep: int,
    ) -> torch.Tensor:
        out = self.hf_model(
            input_ids=input_ids,
            position_ids=position_ids,
            attention_mask=attention_mask,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=keep,  # the vocabulary projection only where logits are used
        )
        return out.logits.float()  # [B, keep, vocab]

    def close(self) -> None:
        """Nothing to free: the weights go with the last reference to the model."""


_GROWING_LAYER: Any = None


def growing_layer_class() -> Any:
    """A ``DynamicLayer`` that keeps spare room after its keys and values.

    transformers' layer appends with ``torch.cat``, copying the whole cache for every new
    token: 28% of a decode step of 16 rows of the bench model on this CPU. This one writes the
    new positions into room it keeps (doubling when full), and ``keys``/``values`` are views of
    the filled part, so cropping, selecting rows and the attention see what they saw before.
    Built on first use: transformers is imported only when a model loads.
    """
    global _GROWING_LAYER
    if _GROWING_LAYER is not None:
        return _GROWING_LAYER
    from transformers.cache_utils import DynamicLayer

    base: Any = DynamicLayer

    class GrowingLayer(base):
        _room: tuple[Any, Any] | None = None

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            held = self.get_seq_length()
            needed = held + key_states.shape[-2]
            room = self._room
            if room is None or room[0].shape[-2] < needed or len(room[0]) != len(key_states):
                size = max(needed, 2 * held, 64)
                room = tuple(
                    new.new_empty((*new.shape[:-2], size, new.shape[-1]))
                    for new in (key_states, value_states)
                )
                if held:
                    room[0][..., :held, :] = self.keys
                    room[1][..., :held, :] = self.values
                self._room = room
            room[0][..., held:needed, :] = key_states
            room[1][..., held:needed, :] = value_states
            self.keys, self.values = room[0][..., :needed, :], room[1][..., :needed, :]
            return self.keys, self.values

        def batch_select_indices(self, indices: Any) -> None:
            super().batch_select_indices(indices)
            self._room = None  # the rows kept are a copy: the next update makes room anew

        def batch_repeat_interleave(self, repeats: int) -> None:
            super().batch_repeat_interleave(repeats)
            self._room = None

        def reset(self) -> None:
            super().reset()
            self._room = None

    _GROWING_LAYER = GrowingLayer
    return GrowingLayer
