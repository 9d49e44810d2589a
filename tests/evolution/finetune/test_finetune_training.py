"""LoRA training on the smoke model (RANDOM WEIGHTS): loss, weights, round trip, EOS, OOM."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from finetune_helpers import StopAt, progress_lines, synthetic_pairs, train_in_process

from evolution.finetune.errors import TrainingOutOfMemory
from evolution.finetune.formatting import IGNORE_INDEX, ExampleRenderer
from evolution.finetune.modeling import cpu_threads
from evolution.finetune.records import pair_key
from evolution.finetune.stopping import StopRequest


def _lora_and_base(model) -> tuple[dict, dict]:
    lora, base = {}, {}
    for name, param in model.named_parameters():
        (lora if "lora_" in name else base)[name] = param.detach().clone()
    return lora, base


def test_the_loss_falls_lora_weights_change_and_base_weights_do_not(tiny_config, tmp_path):
    config = tiny_config(epochs=15, fim_share=0.25)
    stream = io.StringIO()
    from evolution.finetune.modeling import load_for_training

    # The same seed gives the same initial LoRA weights, so a fresh load shows the start.
    initial_lora, initial_base = _lora_and_base(load_for_training(config).model)
    trainer, outcome = train_in_process(
        config, synthetic_pairs(16), tmp_path / "run", stream=stream
    )
    assert outcome.status == "finished" and outcome.step == outcome.total_steps >= 15
    first, last = outcome.losses[0], sum(outcome.losses[-3:]) / 3
    assert last < first - 0.3, outcome.losses
    lora, base = _lora_and_base(trainer.unwrapped)
    assert lora.keys() == initial_lora.keys() and len(lora) == 2 * 7 * 2  # A, B × 7 × 2 layers
    changed = [n for n in lora if not torch.equal(lora[n], initial_lora[n])]
    assert len(changed) == len(lora)  # every LoRA matrix moved (B starts at zero)
    assert all(torch.equal(base[n], initial_base[n]) for n in base)
    # Progress lines carry what the server relays: step, loss, tokens/s, eta.
    train_lines = [e for e in progress_lines(stream) if e.get("phase") == "train"]
    assert len(train_lines) == outcome.step
    assert {"step", "loss", "tokens_per_s", "eta_s", "done", "total"} <= set(train_lines[-1])
    assert train_lines[-1]["eta_s"] == 0 and train_lines[0]["tokens_per_s"] > 0


def test_a_saved_adapter_loads_back_with_identical_outputs(tiny_config, tmp_path, smoke_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    trainer, _ = train_in_process(tiny_config(epochs=4), synthetic_pairs(12), tmp_path / "run")
    model = trainer.unwrapped.eval()
    model.save_pretrained(tmp_path / "adapter")
    ids = torch.tensor([[5, 17, 300, 42, 7, 99]])
    with torch.no_grad():
        expected = model(input_ids=ids).logits
        base = AutoModelForCausalLM.from_pretrained(smoke_model_dir, dtype=torch.float32)
        reloaded = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
        assert torch.allclose(reloaded(input_ids=ids).logits, expected, atol=1e-5)
        with model.disable_adapter():
            assert not torch.allclose(model(input_ids=ids).logits, expected, atol=1e-3)


@pytest.mark.parametrize(
    ("fim_share", "keep_end_token"), [(0.0, True), (1.0, True), (0.0, False)], ids=str
)
def test_the_tuned_model_stops_where_the_data_stops(
    fim_share, keep_end_token, tiny_config, tmp_path, smoke_model_dir, monkeypatch
):
    """Chat answers end with <|im_end|> and FIM middles with <|endoftext|>, through serving.

    Four pairs are learnt by heart (greedy argmax; random small weights keep the loss high).
    The control run masks the end tokens' labels, as a collator that treats pad (== EOS in
    Qwen) as padding would: that model must NOT stop, or the test could not tell.
    """
    from models import SamplingParams, load_model

    if not keep_end_token:
        original = ExampleRenderer._example

        def without_end_label(self, prompt, response, end_id, kind, key):
            example = original(self, prompt, response, end_id, kind, key)
            example.labels[-1] = IGNORE_INDEX
            return example

        monkeypatch.setattr(ExampleRenderer, "_example", without_end_label)
    rows = {pair_key(r["instruct"], r["code"]): r for r in synthetic_pairs(6)}
    config = tiny_config(
        base_model=str(smoke_model_dir),
        epochs=60,
        batch_size=4,  # the four training examples in one packed row: one step per epoch
        lora_rank=32,
        learning_rate=5e-3,
        lr_scheduler="constant",
        fim_share=fim_share,
    )
    trainer, _ = train_in_process(config, list(rows.values()), tmp_path / "run")
    trainer.unwrapped.save_pretrained(tmp_path / "adapter")
    model = load_model(
        config.base_model, device="cpu", dtype="float32", adapter=tmp_path / "adapter"
    )
    params = SamplingParams(max_new_tokens=40)
    stopped_right = 0
    with cpu_threads(1):
        for example in trainer.data.train:
            stopped_right += _stops_right(model, example, rows, params, config.system_prompt)
    assert len(trainer.data.train) == 4
    assert stopped_right == (4 if keep_end_token else 0)


def _stops_right(model, example, rows, params, system_prompt) -> bool:
    """Greedy output of the served model equals the trained answer and ends on an end token."""
    if example.kind == "chat":  # the serving path builds the prompt from the instruction
        row = rows[example.key]
        message = [{"role": "user", "content": row["instruct"]}]
        reply = model.chat(message, params, system_prompt=system_prompt)
        expected = row["code"]
    else:  # the FIM prompt as trained; the answer must end where the span ends
        start = next(i for i, label in enumerate(example.labels) if label != IGNORE_INDEX)
        reply = model.generate(example.input_ids[:start], params)
        expected = model.tokenizer.decode(example.input_ids[start:-1])
    return reply.finish_reason == "eos" and reply.text == expected


def test_out_of_memory_names_the_settings_to_lower(tiny_config, tmp_path, monkeypatch):
    from evolution.finetune.trainer import Trainer

    def allocate_too_much(*args):  # a real allocator failure inside the forward pass
        return torch.empty(1 << 60, dtype=torch.uint8)

    original_prepare = Trainer._prepare

    def prepare_with_a_huge_layer(self, model):
        model.get_input_embeddings().register_forward_hook(allocate_too_much)
        return original_prepare(self, model)

    monkeypatch.setattr(Trainer, "_prepare", prepare_with_a_huge_layer)
    with pytest.raises(TrainingOutOfMemory) as caught:
        train_in_process(tiny_config(batch_size=3), synthetic_pairs(8), tmp_path / "run")
    message = str(caught.value)
    assert "batch_size=3" in message and "--batch-size" in message and "--max-length" in message
    assert "max_length=256" in message


def test_a_stop_request_checkpoints_and_a_resume_ends_where_an_unbroken_run_ends(
    tiny_config, tmp_path: Path
):
    config = tiny_config(epochs=6, checkpoint_every=100)
    rows = synthetic_pairs(16)
    unbroken, full = train_in_process(config, rows, tmp_path / "unbroken")
    stop = StopRequest()
    _, stopped = train_in_process(
        config, rows, tmp_path / "broken", stream=StopAt(stop, 3), stop=stop
    )
    assert stopped.status == "stopped" and stopped.step == 3
    assert (tmp_path / "broken" / "checkpoints" / "step-00000003" / "manifest.json").is_file()
    resumed, finished = train_in_process(config, rows, tmp_path / "broken", resume=True)
    assert finished.status == "finished" and finished.resumed_from == 3
    assert finished.losses == pytest.approx(full.losses, abs=1e-5)
    for (name, a), (_, b) in zip(
        unbroken.unwrapped.named_parameters(), resumed.unwrapped.named_parameters(), strict=True
    ):
        if "lora_" in name:
            assert torch.allclose(a, b, atol=1e-6), name
