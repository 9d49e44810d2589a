"""GGUF export of a Qwen2 folder (``models.gguf_export``) and llama.cpp on it.

The export needs only the ``gguf`` package (dev extra); the tests that run llama.cpp need the
optional ``llama`` extra (llama-cpp-python, compiled from source) and are skipped without it,
as ``make test`` does not install it.
"""

from __future__ import annotations

import json
import shutil

import pytest

from models.errors import UnsupportedError
from models.gguf_export import export_gguf


def _fields(path):
    import gguf

    reader = gguf.GGUFReader(str(path))
    return reader, {k: f.contents() for k, f in reader.fields.items()}


def test_the_export_holds_every_tensor_and_the_vocabulary(smoke_model_dir, tmp_path):
    import numpy as np
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    out = export_gguf(smoke_model_dir, tmp_path / "smoke.gguf")
    reader, fields = _fields(out)
    config = json.loads((smoke_model_dir / "config.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(smoke_model_dir)
    assert fields["general.architecture"] == "qwen2"
    assert fields["qwen2.block_count"] == config["num_hidden_layers"]
    assert fields["qwen2.attention.head_count_kv"] == config["num_key_value_heads"]
    assert fields["tokenizer.ggml.pre"] == "qwen2"
    assert fields["tokenizer.ggml.add_bos_token"] is False
    tokens, types = fields["tokenizer.ggml.tokens"], fields["tokenizer.ggml.token_type"]
    assert len(tokens) == config["vocab_size"]
    for special in ("<|fim_prefix|>", "<|endoftext|>"):
        token_id = tokenizer.convert_tokens_to_ids(special)
        assert tokens[token_id] == special and types[token_id] == 3  # a control token
    weights = load_file(smoke_model_dir / "model.safetensors")
    assert "lm_head.weight" not in weights or config["tie_word_embeddings"]
    expected = {k for k in weights if k != "lm_head.weight"}
    assert len(reader.tensors) == len(expected)
    by_name = {t.name: t for t in reader.tensors}
    q_proj = weights["model.layers.1.self_attn.q_proj.weight"].numpy()
    stored = np.asarray(by_name["blk.1.attn_q.weight"].data).reshape(q_proj.shape)
    assert np.array_equal(stored, q_proj)


def test_float16_export_keeps_norms_and_biases_in_float32(smoke_model_dir, tmp_path):
    import gguf

    reader, _ = _fields(export_gguf(smoke_model_dir, tmp_path / "f16.gguf", file_type="F16"))
    for tensor in reader.tensors:
        wanted = gguf.GGMLQuantizationType.F16 if len(tensor.shape) == 2 else 0  # F32
        assert tensor.tensor_type == wanted, tensor.name


def test_other_architectures_are_refused(smoke_model_dir, tmp_path):
    folder = tmp_path / "llama"
    shutil.copytree(smoke_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(UnsupportedError, match="handles Qwen2"):
        export_gguf(folder, tmp_path / "x.gguf")
