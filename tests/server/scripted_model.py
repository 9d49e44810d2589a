"""A copy of the smoke model that writes one scripted line again and again, whatever the prompt.

The tests of the time box and of prefetching need completions of several whole lines that
survive post-processing, and the same ones every time. Here every layer's output projection
is zero, so the last hidden state is the embedding of the current token alone: the model is
a table from the current token to the next. The embeddings are unit vectors (one dimension
for every token of the line, one shared by all other tokens) and the untied output rows map
each token of the line to the next one, the last back to the first, and every other token
(the prompt's last) to the first. Greedy decoding writes ``line`` over and over; the margin
is 8 logits, so sampling strays from it now and then. RANDOM WEIGHTS in spirit: it knows no
code, only its line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

MARGIN = 8.0  # the scripted token's logit over every other one (after the final RMSNorm)


def build_scripted_model(smoke_dir: Path, target: Path, line: str) -> list[int]:
    """Write the scripted copy of ``smoke_dir`` to ``target``; return the line's token ids."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    shutil.copytree(smoke_dir, target)
    tokenizer = AutoTokenizer.from_pretrained(target)
    cycle = tokenizer.encode(line, add_special_tokens=False)
    weights = load_file(target / "model.safetensors")
    vocab, hidden = weights["model.embed_tokens.weight"].shape
    if len(set(cycle)) != len(cycle) or len(cycle) >= hidden:
        raise ValueError(f"{line!r} must be fewer than {hidden} distinct tokens: {cycle}")
    for name, tensor in weights.items():
        if name.endswith(("self_attn.o_proj.weight", "mlp.down_proj.weight")):
            tensor.zero_()  # the layers add nothing to the residual stream
    weights["model.norm.weight"].fill_(1.0)
    embed = torch.zeros(vocab, hidden)
    embed[:, 0] = 1.0  # every token off the line: dimension 0
    head = torch.zeros(vocab, hidden)
    # RMSNorm scales a unit vector to sqrt(hidden): divide so the margin is MARGIN logits.
    scale = MARGIN / hidden**0.5
    for index, token in enumerate(cycle):
        embed[token] = 0.0
        embed[token, index + 1] = 1.0
        successor = cycle[(index + 1) % len(cycle)]
        head[successor, index + 1] = scale
    head[cycle[0], 0] = scale
    weights["model.embed_tokens.weight"] = embed
    weights["lm_head.weight"] = head
    save_file(weights, target / "model.safetensors", metadata={"format": "pt"})
    config_path = target / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tie_word_embeddings"] = False
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return cycle
