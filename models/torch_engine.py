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
        from transformers import DynamicCache

        return DynamicCache(config=self.hf_model.config)

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
