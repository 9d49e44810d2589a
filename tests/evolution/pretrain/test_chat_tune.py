"""``evoselfcode chat-tune`` on a tiny model the pretraining code made: the loss is on the
answers only, a stopped run resumes, and the folder loads as an instruct model trained here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolution.chattune.pairs import PairSet, functions_of
from evolution.chattune.run import ChatTuneRequest, run_chat_tune
from evolution.chattune.train import render
from evolution.finetune.config import QWEN_DEFAULT_SYSTEM_PROMPT
from evolution.finetune.formatting import IGNORE_INDEX
from evolution.finetune.stopping import StopRequest
from evolution.pretrain.config import ConfigError, PretrainError
from evolution.pretrain.train import LOG_FILE
from models.smoke import TRAINED_HERE_MARKER

SETTINGS = {
    "batch_size": 2,
    "lr": 1e-3,
    "warmup_steps": 1,
    "seed": 0,
    "threads": 1,
    "eval_every": 2,
    "checkpoint_every": 2,
}
TEMPLATE = '''def {name}(values, low, high):
    """Return the values of ``values`` from ``{low}`` up to ``high`` number {i}."""
    kept = [v for v in values if v >= low]
    return [v for v in kept if v <= high + {i}]
'''


def _pairs() -> PairSet:
    texts = [TEMPLATE.format(name=f"between_{i}", low="low" * (1 + i % 3), i=i) for i in range(24)]
    found = [p for i, text in enumerate(texts) for p in functions_of(f"stdlib:m{i}.py", text)]
    return PairSet(train=found[:18], heldout=found[18:])


@pytest.fixture(scope="module")
def base_folder(tiny_config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base model of the tiny machine, with a context that holds a chat turn."""
    from evolution.pretrain.run import PretrainRequest, run_pretrain

    root = tmp_path_factory.mktemp("chat-base")
    config = tiny_config(context=256, tokens=2 * 4 * 256, max_tokens=2 * 4 * 256)
    request = PretrainRequest(out=root / "base", config=config, work=root / "work")
    run_pretrain(request, StopRequest(), lambda message: None)
    return root / "base"


def _tune(base: Path, out: Path, **settings) -> dict:
    request = ChatTuneRequest(
        out=out,
        base=base,
        epochs=2.0,
        settings={**SETTINGS, **settings},
        argv=["chat-tune", str(out), "--from", str(base)],
    )
    return run_chat_tune(request, StopRequest(), lambda message: None, pairs=_pairs())


def test_the_loss_is_on_the_answer_and_im_end_only(base_folder: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_folder)
    pairs = _pairs()
    pair = pairs.train[0].training_pair(0)
    data = render(tokenizer, QWEN_DEFAULT_SYSTEM_PROMPT, [pair], [pair], context=256)
    [example] = data.train
    answer = [label for label in example.labels if label != IGNORE_INDEX]
    start = example.labels.index(answer[0])
    assert all(label == IGNORE_INDEX for label in example.labels[:start])
    assert example.labels[start:] == example.input_ids[start:]  # the answer, all of it
    assert tokenizer.decode(answer) == pair.code + "<|im_end|>"
    prompt = tokenizer.decode(example.input_ids[:start])
    assert prompt.startswith(f"<|im_start|>system\n{QWEN_DEFAULT_SYSTEM_PROMPT}<|im_end|>\n")
    assert prompt.endswith(f"<|im_start|>user\n{pair.instruct}<|im_end|>\n<|im_start|>assistant\n")
    with pytest.raises(PretrainError, match="fits in the context of 40 tokens"):
        render(tokenizer, QWEN_DEFAULT_SYSTEM_PROMPT, [pair], [pair], context=40)


def test_a_run_stops_resumes_and_writes_an_instruct_model_trained_here(
    base_folder: Path, tmp_path: Path
):
    from models import SamplingParams, load_model

    out = tmp_path / "chat"
    first = _tune(base_folder, out, max_tokens=3 * 2 * 256)
    assert first["status"] == "max-tokens" and first["step"] == 3
    assert (out / ".work/checkpoints/step-00000003/state.json").is_file()
    total = first["total_steps"]
    second = _tune(base_folder, out)
    assert second["status"] == "done" and second["step"] == total > 3
    log = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    steps = [r["step"] for r in log]
    assert steps == sorted(set(steps)) and 3 in steps and steps[-1] == total
    assert all(r["heldout_loss"] is None or r["heldout_loss"] > 0 for r in log)
    facts = json.loads((out / TRAINED_HERE_MARKER).read_text())
    assert facts["random_weights"] is False and facts["step"] == total
    assert facts["base_heldout_answer_loss"] > 0 and facts["heldout_answer_loss"] > 0
    assert facts["command"].startswith("evoselfcode chat-tune ")
    assert facts["chat_tune"]["data"]["train_examples"] == 18
    pairs = json.loads((out / "pairs.json").read_text())
    assert pairs["train"]["pairs"] == 18 and pairs["heldout"]["pairs"] == 6
    card = (out / "README.md").read_text()
    assert "small model trained here" in " ".join(card.split()) and "## Examples" in card
    with pytest.raises(ConfigError, match="other settings"):
        _tune(base_folder, out, lr=2e-3)
    model = load_model(out, device="cpu")
    try:
        info = model.info
        assert info.trained_here and not info.random_weights
        assert info.kind == "instruct" and info.dtype == "float32"  # float16 file, float32 here
        reply = model.chat(
            [{"role": "user", "content": "Return the values in range."}],
            SamplingParams(max_new_tokens=8),
            system_prompt=QWEN_DEFAULT_SYSTEM_PROMPT,
        )
        assert reply.new_tokens > 0
    finally:
        model.close()
