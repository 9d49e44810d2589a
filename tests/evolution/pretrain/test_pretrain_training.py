"""Pretraining runs on the tiny machine: the loss falls, slices resume exactly where they
stopped, a stop checkpoints, and the model folder loads like any Qwen checkpoint."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from evolution.finetune.stopping import StopRequest
from evolution.pretrain.card import MARKER
from evolution.pretrain.config import PretrainConfig
from evolution.pretrain.run import PretrainRequest, run_pretrain
from evolution.pretrain.train import LOG_FILE
from server.cli import build_parser


class StopAfter(StopRequest):
    """A stop that arrives after ``checks`` looks at it (as SIGTERM would mid-run)."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.checks = checks

    @property
    def requested(self) -> bool:  # type: ignore[override]
        self.checks -= 1
        return self.checks < 0 or self.signum is not None


def train(config, out: Path, work: Path, stop: StopRequest | None = None, **request) -> dict:
    req = PretrainRequest(out=out, config=config, work=work, **request)
    return run_pretrain(req, stop or StopRequest(), lambda message: None)


def log_of(work: Path) -> list[dict]:
    return [json.loads(line) for line in (work / LOG_FILE).read_text().splitlines()]


def test_a_few_steps_make_the_loss_fall(tiny_config, work_copy, tmp_path):
    result = train(tiny_config(max_tokens=30 * 4 * 64), tmp_path / "out", work_copy)
    assert result["status"] == "max-tokens" and result["step"] == 30
    losses = [r["loss"] for r in log_of(work_copy)]
    assert losses[-1] < losses[0] - 0.5, losses
    heldout = [r["heldout_loss"] for r in log_of(work_copy) if r["heldout_loss"] is not None]
    assert heldout[-1] < heldout[0]
    assert result["tok_s"] > 0 and 0 < result["utilisation"] < 1


def test_slices_resume_where_they_stopped_and_match_one_run(
    tiny_config, prepared_work, work_copy, tmp_path
):
    import shutil

    whole = tmp_path / "whole"
    shutil.copytree(prepared_work, whole / "work")
    straight = train(tiny_config(max_tokens=20 * 4 * 64), tmp_path / "o1", whole / "work")
    first = train(tiny_config(max_tokens=12 * 4 * 64), tmp_path / "o2", work_copy)
    second = train(tiny_config(max_tokens=8 * 4 * 64), tmp_path / "o2", work_copy)
    assert (first["step"], second["step"], straight["step"]) == (12, 20, 20)
    state = json.loads((work_copy / "checkpoints/step-00000020/state.json").read_text())
    assert state["windows"] == 20 * 4 and state["tokens"] == 20 * 4 * 64
    assert [r["step"] for r in log_of(work_copy)] == [10, 12, 20]
    # Optimizer, schedule, data position and RNG all came back: the same weights as one run.
    a = load_file(str(whole / "work/checkpoints/step-00000020/model.safetensors"))
    b = load_file(str(work_copy / "checkpoints/step-00000020/model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_a_stop_checkpoints_and_the_rerun_continues(tiny_config, work_copy, tmp_path):
    out = tmp_path / "out"
    stopped = train(tiny_config(), out, work_copy, stop=StopAfter(7))
    assert stopped["status"] == "stopped" and stopped["step"] == 7
    assert (work_copy / "checkpoints/step-00000007/state.json").is_file()
    again = train(tiny_config(max_tokens=3 * 4 * 64), out, work_copy)
    assert again["step"] == 10
    assert json.loads((out / MARKER).read_text())["step"] == 10


def test_changed_settings_do_not_resume_silently(tiny_config, work_copy, tmp_path):
    from evolution.pretrain.config import ConfigError

    train(tiny_config(max_tokens=4 * 64), tmp_path / "out", work_copy)
    with pytest.raises(ConfigError, match=re.escape("lr: 0.003 → 0.001")):
        train(tiny_config(lr=1e-3, max_tokens=4 * 64), tmp_path / "out", work_copy)
    restarted = train(
        tiny_config(lr=1e-3, max_tokens=4 * 64), tmp_path / "out", work_copy, restart=True
    )
    assert restarted["step"] == 1


@pytest.fixture(scope="module")
def trained_folder(tiny_config, prepared_work, tmp_path_factory) -> Path:
    import shutil

    root = tmp_path_factory.mktemp("trained")
    shutil.copytree(prepared_work, root / "work")
    train(tiny_config(max_tokens=10 * 4 * 64), root / "model", root / "work")
    return root / "model"


def test_the_model_folder_loads_offline_with_the_auto_classes(trained_folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained_folder, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(trained_folder, local_files_only=True)
    assert model.config.model_type == "qwen2" and model.config.tie_word_embeddings
    vocab = tokenizer.get_vocab()
    eos = model.generation_config.eos_token_id
    assert eos[:3] == [vocab["<|endoftext|>"], vocab["<|im_start|>"], vocab["<|im_end|>"]]
    assert vocab["<|file_sep|>"] in eos and len(eos) == 9
    ids = tokenizer("def f(x):\n    return", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=5, do_sample=False, min_new_tokens=5)
    assert out.shape[1] == ids.shape[1] + 5
    for name in ("README.md", "data_manifest.json", "heldout.json", LOG_FILE, MARKER):
        assert (trained_folder / name).is_file(), name
    facts = json.loads((trained_folder / MARKER).read_text())
    [command] = facts["commands"]
    assert command.startswith("evoselfcode pretrain ") and "--seed" not in command
    # The recorded command, parsed again, asks for the same data, model and optimisation.
    args = build_parser().parse_args(shlex.split(command)[1:])
    fixed = {name: getattr(args, name) for name in PretrainConfig().fixed()}
    assert fixed == {name: facts["config"][name] for name in fixed}
    assert args.max_tokens == facts["tokens_seen"] == 10 * 4 * 64
    assert args.tokens == facts["config"]["tokens"]
    assert "nowhere near Qwen2.5-Coder" in (trained_folder / "README.md").read_text()


def test_the_runtime_loads_it_and_fills_in_the_middle(trained_folder):
    from models import SamplingParams, fim_prompt, load_model

    model = load_model(trained_folder)
    try:
        assert not model.info.random_weights and model.info.kind == "base"
        assert model.info.trained_here
        assert model.info.context_window == 64 and model.info.dtype == "float32"
        result = model.generate(
            fim_prompt("def f(x):\n    return ", "\n"), SamplingParams(max_new_tokens=6)
        )
        assert result.finish_reason in ("length", "stop")
    finally:
        model.close()


def test_cli_data_only_and_help(tiny_config, tmp_path, capsys):
    from server.cli import main

    config = tiny_config()
    flags = ["--stdlib", config.stdlib, "--site-packages", config.site_packages]
    flags += ["--exclude-packages", "bigpkg", "--heldout-package", "heldpkg"]
    flags += ["--vocab-size", "400", "--context", "64", "--progress", "json"]
    assert main(["pretrain", str(tmp_path / "m"), "--data-only", *flags]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    result = lines[-1]
    assert result["event"] == "result" and result["status"] == "data-ready"
    assert Path(result["train_tokens_file"]).stat().st_size == 2 * result["train_tokens"]
    assert main(["pretrain", str(tmp_path / "m"), "--fim-rate", "2"]) == 2


def test_weights_too_big_for_float32_are_saved_in_bfloat16(
    tiny_config, work_copy, tmp_path, monkeypatch
):
    from models import load_model

    monkeypatch.setattr("evolution.pretrain.card.MAX_WEIGHT_BYTES", 1000)
    out = tmp_path / "out"
    train(tiny_config(max_tokens=4 * 64), out, work_copy)
    weights = load_file(str(out / "model.safetensors"))
    assert {t.dtype for t in weights.values()} == {torch.bfloat16}
    assert "lm_head.weight" not in weights  # tied: the embedding is saved once
    model = load_model(out)
    try:
        assert model.info.dtype == "float32"  # the runtime computes in float32 on a CPU
    finally:
        model.close()


def test_a_run_whose_length_changed_on_resume_is_reproduced_by_one_command_per_stretch():
    from evolution.pretrain.card import commands_of

    config = PretrainConfig(tokens=40_960, batch_size=2, context=64, layers=3)  # 128 per step
    schedule = [{"from_step": 0, "tokens": 1_000_000}, {"from_step": 100, "tokens": 40_960}]
    first, second = (
        build_parser().parse_args(shlex.split(c)[1:])
        for c in commands_of(Path("m"), config, schedule, step=250)
    )
    assert (first.tokens, first.max_tokens, first.layers) == (1_000_000, 100 * 128, 3)
    assert (second.tokens, second.max_tokens, second.layers) == (40_960, 150 * 128, 3)
    # A finished run needs no budget; an unrecorded length says so instead of guessing.
    [done] = commands_of(Path("m"), config, schedule[1:], step=320)
    assert "--max-tokens" not in done
    [unknown] = commands_of(Path("m"), config, [{"from_step": 0, "tokens": None}], step=3)
    assert "--tokens UNRECORDED" in unknown


def test_init_from_continues_the_weights_on_new_samples(tiny_config, trained_folder, tmp_path):
    """A second stage (--init-from, another FIM recipe) starts from the first stage's weights
    and tokenizer, holds out the same files, and its card reproduces both stages."""
    from evolution.pretrain.config import ConfigError, PretrainError

    stage = tiny_config(init_from=str(trained_folder), fim_split="chars", lr=1e-3)
    out = tmp_path / "stage2"
    result = train(stage, out, tmp_path / "work", stop=StopAfter(0))
    assert result["status"] == "stopped" and result["step"] == 0
    assert (out / "tokenizer.json").read_bytes() == (trained_folder / "tokenizer.json").read_bytes()
    before, after = (
        load_file(str(trained_folder / "model.safetensors")),
        load_file(str(out / "model.safetensors")),
    )
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)

    train(stage.__class__(**{**stage.to_dict(), "max_tokens": 2 * 4 * 64}), out, tmp_path / "work")
    facts = json.loads((out / MARKER).read_text())
    first = json.loads((trained_folder / MARKER).read_text())
    assert facts["tokens_seen"] == first["tokens_seen"] + 2 * 4 * 64
    *earlier, last = facts["commands"]
    assert len(earlier) == len(first["commands"])
    assert all(shlex.split(c)[2] == str(trained_folder) for c in earlier)
    assert f"--init-from {trained_folder}" in last and "--fim-split chars" in last

    with pytest.raises(ConfigError, match="another shape"):
        train(
            tiny_config(init_from=str(trained_folder), hidden_size=64),
            tmp_path / "o3",
            tmp_path / "work3",
        )
    with pytest.raises(PretrainError, match=r"trained on .* of this run's held-out files"):
        more_heldout = tiny_config(init_from=str(trained_folder), heldout_percent=50.0)
        train(more_heldout, tmp_path / "o5", tmp_path / "work5")
    with pytest.raises(ConfigError, match="not a model folder"):
        train(tiny_config(init_from=str(tmp_path)), tmp_path / "o4", tmp_path / "work4")
