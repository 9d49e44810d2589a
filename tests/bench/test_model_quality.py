"""``bench/model_quality.py``'s random twin: the model's shape, tokenizer and held-out list, new
weights. The smoke model (RANDOM WEIGHTS) stands in for the shipped one."""

from __future__ import annotations

import shutil

from bench.model_quality import random_twin
from evolution.pretrain.data import HELDOUT_LIST
from evolution.pretrain.init_from import TOKENIZER_FILES


def test_the_twin_has_the_tokenizer_and_held_out_list_and_other_weights(smoke_model_dir, tmp_path):
    from safetensors.torch import load_file

    model = tmp_path / "model"
    shutil.copytree(smoke_model_dir, model)
    (model / HELDOUT_LIST).write_text('{"files": []}\n', encoding="utf-8")
    twin = random_twin(model, tmp_path / "twin", seed=1)  # the smoke model is seed 0

    present = [name for name in (*TOKENIZER_FILES, HELDOUT_LIST) if (model / name).is_file()]
    assert {"tokenizer.json", HELDOUT_LIST} <= set(present)
    for name in present:
        assert (twin / name).read_bytes() == (model / name).read_bytes(), name
    ours, theirs = load_file(model / "model.safetensors"), load_file(twin / "model.safetensors")
    assert ours.keys() == theirs.keys()
    assert any(not ours[k].equal(theirs[k]) for k in ours)
