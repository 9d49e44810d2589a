"""The chat variant the repository ships (models/evoselfcode-small-chat) loads by its bare name
through the runtime the server uses, says it is an instruct model trained here, and answers a
ChatML request, asked as "Generate code from this instruction" asks, with code."""

from __future__ import annotations

import json
import shlex

from evolution.finetune.config import QWEN_DEFAULT_SYSTEM_PROMPT
from models import SamplingParams, load_model
from models.paths import DEFAULT_CHAT_MODEL, default_models_dir
from models.smoke import TRAINED_HERE_MARKER
from server.instructions.answer import extract_code
from server.settings import ChatSettings

FOLDER = default_models_dir() / DEFAULT_CHAT_MODEL


def test_it_loads_by_name_as_an_instruct_model_trained_here_and_answers_with_code():
    model = load_model(DEFAULT_CHAT_MODEL, device="cpu")
    try:
        info = model.info
        assert info.path == FOLDER and info.kind == "instruct" and info.dtype == "float32"
        assert info.trained_here and not info.random_weights
        reply = model.chat(
            [{"role": "user", "content": "Write a Python function `def double(x):`\n\nTwice x."}],
            SamplingParams(max_new_tokens=48),
            system_prompt=ChatSettings().system_prompt,
        )
        assert reply.new_tokens > 0 and extract_code(reply.text).strip()
    finally:
        model.close()


def test_it_was_trained_as_the_server_asks_and_carries_what_made_it():
    # The prompt it learned is the one served: the server's default system prompt.
    assert ChatSettings().system_prompt == QWEN_DEFAULT_SYSTEM_PROMPT
    facts = json.loads((FOLDER / TRAINED_HERE_MARKER).read_text(encoding="utf-8"))
    assert facts["random_weights"] is False and facts["step"] == facts["total_steps"]
    assert facts["chat_tune"]["data"]["system_prompt"] == QWEN_DEFAULT_SYSTEM_PROMPT
    assert shlex.split(facts["command"])[:2] == ["evoselfcode", "chat-tune"]
    pairs = json.loads((FOLDER / "pairs.json").read_text(encoding="utf-8"))
    trained = {row[0] for row in pairs["train"]["files"]}
    heldout = json.loads((FOLDER / "heldout.json").read_text(encoding="utf-8"))
    assert trained and not trained & {row[0] for row in heldout["files"]}
    card = " ".join((FOLDER / "README.md").read_text(encoding="utf-8").split())
    assert "small model trained here" in card and facts["command"] in card
