"""The model the repository ships (models/evoselfcode-small) is found by its bare name, loads
offline like any Qwen checkpoint, says what it is, and carries what made it."""

from __future__ import annotations

import json
import shlex

from evolution.pretrain.card import MAX_WEIGHT_BYTES
from models import SamplingParams, fim_prompt, load_model
from models.paths import DEFAULT_MODEL, default_models_dir
from models.smoke import TRAINED_HERE_MARKER

FOLDER = default_models_dir() / DEFAULT_MODEL


def test_the_default_model_loads_by_name_and_says_it_was_trained_here():
    model = load_model(DEFAULT_MODEL, device="cpu")
    try:
        info = model.info
        assert info.path == FOLDER and info.kind == "base" and info.dtype == "float32"
        assert info.trained_here and not info.random_weights
        vocab = model.tokenizer.get_vocab()  # Qwen2.5-Coder's special tokens, all of them
        for token in ("<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"):
            assert token in vocab
        assert "<|im_start|>" in (FOLDER / "chat_template.jinja").read_text(encoding="utf-8")
        result = model.generate(
            fim_prompt("def area(radius):\n    return ", "\n"),
            SamplingParams(max_new_tokens=12, stop=("\n",)),
        )
        assert result.finish_reason in ("eos", "stop", "length") and result.new_tokens > 0
    finally:
        model.close()


def test_it_ships_its_card_data_manifest_log_and_the_commands_that_made_it():
    weights = FOLDER / "model.safetensors"
    assert weights.stat().st_size <= MAX_WEIGHT_BYTES
    facts = json.loads((FOLDER / TRAINED_HERE_MARKER).read_text(encoding="utf-8"))
    assert facts["random_weights"] is False and facts["tokens_seen"] > 0
    commands = [shlex.split(c) for c in facts["commands"]]
    assert commands and all(c[:2] == ["evoselfcode", "pretrain"] for c in commands)
    assert commands[-1][2] == "models/evoselfcode-small"
    for index, command in enumerate(commands):  # a stage goes on from one made before it
        if "--init-from" in command:
            init = command[command.index("--init-from") + 1]
            assert init in {earlier[2] for earlier in commands[:index]}
    manifest = json.loads((FOLDER / "data_manifest.json").read_text(encoding="utf-8"))
    heldout = json.loads((FOLDER / "heldout.json").read_text(encoding="utf-8"))
    trained = {row[0] for row in manifest["files"]}
    assert len(trained) == facts["data"]["train_files"]
    assert not trained & {row[0] for row in heldout["files"]}  # held out by path
    assert all(len(row[1]) == 64 for row in manifest["files"])  # SHA-256 of every file
    log = (FOLDER / "train_log.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(log[-1])["step"] <= facts["step"]
    card = (FOLDER / "README.md").read_text(encoding="utf-8")
    assert "nowhere near Qwen2.5-Coder" in card and facts["commands"][-1] in card
