"""The llama.cpp backend (``models.llama_engine``): the same ``LocalModel`` on llama.cpp's
kernels, checked against the transformers engine on the same weights, and LoRA adapters
converted to GGUF (``models.gguf_lora``).

The conversion needs only the ``gguf`` package (dev extra). The tests marked ``llama`` run
llama.cpp itself, which the optional ``llama`` extra compiles from source (about 35 minutes
on 2 cores): ``make test`` leaves them out, ``make test-llama`` installs the extra and runs
them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from models.errors import InvalidRequestError, ModelLoadError, UnsupportedError
from models.gguf_lora import export_lora_gguf, gguf_adapter_file
from models.prompts import fim_prompt
from models.types import CancelToken, SamplingParams

GREEDY = SamplingParams(max_new_tokens=24, min_new_tokens=24)


def _lora(model_dir: Path, out: Path, *, seed: int, rslora: bool = False) -> Path:
    """A LoRA adapter with non-zero B (peft starts B at zero: an adapter that changes
    nothing would let a test that it applies pass without applying it)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "down_proj"],
        use_rslora=rslora,
        init_lora_weights=False,  # random A and B
    )
    get_peft_model(model, config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def adapter_dir(lively_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _lora(lively_model_dir, tmp_path_factory.mktemp("lora") / "tuned", seed=7)


def _fields(path: Path):
    import gguf

    reader = gguf.GGUFReader(str(path))
    return reader, {k: f.contents() for k, f in reader.fields.items()}


# -- the adapter as GGUF (no llama.cpp needed) -----------------------------------------------


def test_the_adapter_gguf_names_each_factor_after_its_base_tensor(adapter_dir, tmp_path):
    import numpy as np
    from safetensors.torch import load_file

    reader, fields = _fields(export_lora_gguf(adapter_dir, tmp_path / "a.gguf", layers=2))
    assert fields["general.architecture"] == "qwen2"
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == pytest.approx(8.0)
    weights = load_file(adapter_dir / "adapter_model.safetensors")
    by_name = {t.name: t for t in reader.tensors}
    assert len(by_name) == len(weights)
    a = weights["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"].numpy()
    b = weights["base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"].numpy()
    stored_a = by_name["blk.1.ffn_down.weight.lora_a"]
    stored_b = by_name["blk.1.attn_q.weight.lora_b"]
    assert np.array_equal(np.asarray(stored_a.data).reshape(a.shape), a)  # [rank, in]
    assert np.array_equal(np.asarray(stored_b.data).reshape(b.shape), b)  # [out, rank]


def test_rslora_scale_is_written_as_the_alpha_that_gives_it(lively_model_dir, tmp_path):
    adapter = _lora(lively_model_dir, tmp_path / "rs", seed=1, rslora=True)
    _, fields = _fields(export_lora_gguf(adapter, tmp_path / "rs.gguf", layers=2))
    # llama.cpp scales by alpha / r; rsLoRA by lora_alpha / sqrt(r) = 8 / 2
    assert fields["adapter.lora.alpha"] / 4 == pytest.approx(8 / 2)


def test_the_conversion_is_cached_until_the_weights_change(adapter_dir, tmp_path):
    folder = tmp_path / "adapter"
    shutil.copytree(adapter_dir, folder)
    first = gguf_adapter_file(folder, tmp_path / "cache", layers=2)
    assert gguf_adapter_file(folder, tmp_path / "cache", layers=2) == first
    weights = folder / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes())  # rewritten: another modification time
    second = gguf_adapter_file(folder, tmp_path / "cache", layers=2)
    assert second != first and second.is_file()
    assert not list((tmp_path / "cache").glob("*.partial"))


def test_what_llama_cpp_cannot_load_is_refused_with_the_reason(adapter_dir, tmp_path):
    with pytest.raises(ModelLoadError, match=r"no adapter_config\.json"):
        gguf_adapter_file(tmp_path, tmp_path / "cache", layers=2)
    dora = tmp_path / "dora"
    shutil.copytree(adapter_dir, dora)
    config = json.loads((dora / "adapter_config.json").read_text())
    (dora / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(UnsupportedError, match="DoRA"):
        export_lora_gguf(dora, tmp_path / "d.gguf", layers=2)


def test_auto_is_transformers_without_the_llama_extra(monkeypatch):
    import importlib.util

    from models.loading import choose_backend

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name)
    )
    assert choose_backend("auto", "cpu") == "local"
    assert choose_backend("remote") == "remote"
    with pytest.raises(InvalidRequestError, match="backend must be one of"):
        choose_backend("vllm")


# -- llama.cpp itself (make test-llama) ------------------------------------------------------


@pytest.fixture(scope="module")
def on_llama(lively_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The lively model on llama.cpp at F32, so its greedy output can equal float32's."""
    from models import load_model

    data_dir = tmp_path_factory.mktemp("data")
    model = load_model(
        lively_model_dir, backend="llama.cpp", quantization="none", data_dir=data_dir
    )
    yield model
    model.close()


def _prompts(source_text: str) -> list:
    """Fill-in-the-middle prompts in real source, as the editor sends them."""
    return [
        fim_prompt(source_text[start : start + 900], source_text[start + 900 : start + 1200])
        for start in (0, 2000, 5000)
    ]


@pytest.mark.llama
def test_llama_cpp_writes_what_transformers_writes(on_llama, lively_uncached, source_text):
    assert on_llama.info.backend == "llama.cpp" and on_llama.info.dtype == "F32"
    for prompt in _prompts(source_text):
        ours = on_llama.generate(prompt, GREEDY)
        reference = lively_uncached.generate(prompt, GREEDY)
        assert ours.token_ids == reference.token_ids
        assert ours.text == reference.text


@pytest.mark.llama
def test_a_longer_prompt_reuses_the_keys_and_values_of_the_last(on_llama, source_text):
    on_llama.generate(source_text[:3000], GREEDY)
    again = on_llama.generate(source_text[:3040], GREEDY)
    assert again.cached_tokens > 0.9 * again.prompt_tokens
    fresh = on_llama.generate(source_text[5000:8040], GREEDY)
    assert fresh.cached_tokens == 0


@pytest.mark.llama
def test_stops_cancel_and_several_candidates(on_llama, lively_uncached, source_text):
    prompt = _prompts(source_text)[0]
    full = on_llama.generate(prompt, GREEDY)
    stop = full.text[5:8]
    stopped = on_llama.generate(prompt, SamplingParams(max_new_tokens=24, stop=(stop,)))
    assert stopped.finish_reason == "stop" and stop not in stopped.text
    assert full.text.startswith(stopped.text)

    cancel = CancelToken()
    pieces: list[str] = []

    def cancel_after_first(piece: str) -> None:
        pieces.append(piece)
        cancel.cancel()

    cut = on_llama.generate(prompt, GREEDY, cancel=cancel, on_text=cancel_after_first)
    assert cut.finish_reason == "cancelled" and cut.new_tokens < 24

    candidates = on_llama.generate_candidates(
        prompt, SamplingParams(max_new_tokens=8, min_new_tokens=8, seed=3), 3
    )
    assert len(candidates) == 3
    assert candidates[0].token_ids == full.token_ids[:8]  # the first is the greedy suggestion
    assert all(c.cached_tokens > 0 for c in candidates[1:])  # one prefill for all of them
    batch = on_llama.generate_batch(_prompts(source_text), GREEDY)
    assert [g.token_ids for g in batch] == [
        lively_uncached.generate(p, GREEDY).token_ids for p in _prompts(source_text)
    ]


@pytest.mark.llama
def test_a_lora_adapter_is_switched_on_and_off_without_a_reload(
    on_llama, lively_model_dir, adapter_dir, source_text
):
    from models import load_model

    tuned = load_model(lively_model_dir, dtype="float32", adapter=adapter_dir)
    prompt = _prompts(source_text)[1]
    base = on_llama.generate(prompt, GREEDY)
    on_llama.load_adapter(adapter_dir, "tuned")
    on_llama.set_adapter("tuned")
    assert on_llama.info.adapter == "tuned"
    with_adapter = on_llama.generate(prompt, GREEDY)
    assert with_adapter.token_ids != base.token_ids  # the adapter changes the output ...
    assert with_adapter.token_ids == tuned.generate(prompt, GREEDY).token_ids  # ... as peft's
    on_llama.set_adapter(None)
    assert on_llama.generate(prompt, GREEDY).token_ids == base.token_ids
    on_llama.unload_adapter("tuned")
    assert on_llama.adapters == {}
    with pytest.raises(InvalidRequestError, match="no adapter named"):
        on_llama.set_adapter("tuned")


@pytest.mark.llama
def test_auto_picks_llama_cpp_on_a_cpu_where_it_is_installed():
    from models.loading import choose_backend

    assert choose_backend("auto", "cpu") == "llama.cpp"
    assert choose_backend("local", "cpu") == "local"


@pytest.mark.llama
def test_the_llama_backend_refuses_a_gpu_and_fine_tuning(lively_model_dir, on_llama, tmp_path):
    from models import load_model

    with pytest.raises(UnsupportedError, match="runs on the CPU"):
        load_model(lively_model_dir, backend="llama.cpp", device="cuda", data_dir=tmp_path)
    with pytest.raises(UnsupportedError, match="no transformers model"):
        _ = on_llama.hf_model


@pytest.mark.llama
def test_loading_leaves_stdout_alone_and_keeps_stderr_quiet(
    lively_model_dir, tmp_path, monkeypatch, capfd
):
    """The language server answers on stdout from another thread while the model loads:
    llama-cpp-python's quiet loading points fd 1 at /dev/null meanwhile (``os.dup2``), which
    lost replies; the engine must never do that. Nor fill the server's log (stderr) with
    llama.cpp's line per tensor, converting and loading."""
    import os
    import sys

    from models import load_model

    callers: list[str] = []
    real_dup2 = os.dup2

    def spy(fd: int, fd2: int, *args: object, **kwargs: object) -> int:
        callers.append(sys._getframe(1).f_code.co_filename)
        return real_dup2(fd, fd2, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "dup2", spy)
    load_model(lively_model_dir, backend="llama.cpp", data_dir=tmp_path).close()
    assert not [c for c in callers if "llama_cpp" in c]
    out, err = capfd.readouterr()
    assert "llama_model_loader" not in err and "blk.0" not in err and not out
