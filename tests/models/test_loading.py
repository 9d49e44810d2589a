"""Resolving model references, loading, device/dtype choices and the bad-input errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from models import load_model
from models.device import choose_device, choose_dtype, cpu_has_native_bf16, quantization_config
from models.errors import InvalidRequestError, ModelLoadError, ModelNotFoundError, UnsupportedError
from models.loading import detect_kind
from models.resolve import resolve_model

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_a_folder_loads_with_its_facts(smoke_model_dir):
    model = load_model(smoke_model_dir, dtype="float32")
    info = model.info
    assert info.path == smoke_model_dir.resolve() and info.backend == "local"
    assert info.kind == "base" and info.random_weights is True
    assert info.device == "cpu" and info.dtype == "float32" and info.quantization == "none"
    assert info.context_window == 32768 and info.adapter is None
    assert model.count_tokens("def f():\n    return 1\n") > 3


def test_a_bare_name_under_the_weights_folder(smoke_model_dir, tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(smoke_model_dir, weights / "Qwen2.5-Coder-0.5B")
    found = resolve_model("Qwen2.5-Coder-0.5B", weights)
    assert found.source == "models_dir" and found.path == (weights / "Qwen2.5-Coder-0.5B")
    hub_style = resolve_model("Qwen/Qwen2.5-Coder-0.5B", weights)  # its last part, locally
    assert hub_style.path == found.path


def test_a_hub_id_from_the_hugging_face_cache(smoke_model_dir, tmp_path, monkeypatch):
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--Qwen--Qwen2.5-Coder-0.5B"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT, encoding="utf-8")
    shutil.copytree(smoke_model_dir, repo / "snapshots" / COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    by_id = resolve_model("Qwen/Qwen2.5-Coder-0.5B", tmp_path / "empty")
    bare = resolve_model("Qwen2.5-Coder-0.5B", tmp_path / "empty")  # tried as Qwen/<name>
    assert by_id.source == bare.source == "hf_cache"
    assert by_id.path == bare.path == repo / "snapshots" / COMMIT
    model = load_model("Qwen/Qwen2.5-Coder-0.5B", models_dir=tmp_path / "empty", dtype="float32")
    assert model.info.name == "Qwen/Qwen2.5-Coder-0.5B"


def test_an_unknown_model_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        load_model("Qwen2.5-Coder-7B", models_dir=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "Qwen2.5-Coder-7B") in message
    assert "Hugging Face cache" in message and "Qwen/Qwen2.5-Coder-7B" in message
    assert "hf download Qwen/Qwen2.5-Coder-7B --local-dir" in message
    assert "evoselfcode smoke-model" in message and "offline" in message
    assert len(err.value.looked_in) >= 3
    with pytest.raises(ModelNotFoundError):
        load_model("someone/not-a-model", models_dir=tmp_path)
    with pytest.raises(InvalidRequestError):
        load_model("  ")


def test_a_folder_without_weights(smoke_model_dir, tmp_path):
    folder = tmp_path / "no-weights"
    shutil.copytree(smoke_model_dir, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    with pytest.raises(ModelLoadError, match="no weights"):
        load_model(folder)


def test_a_corrupt_config(smoke_model_dir, tmp_path):
    folder = tmp_path / "corrupt"
    shutil.copytree(smoke_model_dir, folder)
    (folder / "config.json").write_text('{"model_type": "qwen2", "hidden_si', encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(folder)
    (folder / "config.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="model_type"):
        load_model(folder)
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        load_model(tmp_path)


def test_broken_weights_are_a_load_error(smoke_model_dir, tmp_path):
    folder = tmp_path / "truncated"
    shutil.copytree(smoke_model_dir, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        load_model(folder)


def test_device_dtype_and_quantization_choices():
    import torch

    assert choose_device("cpu") == "cpu"
    if torch.cuda.is_available():
        assert choose_device("auto") == "cuda"
    else:
        assert choose_device("auto") in ("mps", "cpu")
        with pytest.raises(UnsupportedError, match="no CUDA GPU"):
            choose_device("cuda")
        with pytest.raises(UnsupportedError, match="CUDA GPU"):
            quantization_config("4bit", "cpu")
    expected = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    assert choose_dtype("auto", "cpu") == expected
    assert choose_dtype("float16", "cpu") == torch.float16
    assert quantization_config("none", "cpu") is None
    for bad in (lambda: choose_device("tpu"), lambda: choose_dtype("int3", "cpu")):
        with pytest.raises(InvalidRequestError):
            bad()
    with pytest.raises(InvalidRequestError):
        quantization_config("2bit", "cpu")


def test_base_or_instruct():
    assert detect_kind("Qwen2.5-Coder-1.5B-Instruct", None, {}) == "instruct"
    assert detect_kind("Qwen/Qwen2.5-Coder-1.5B", None, {}) == "base"
    assert detect_kind("x", Path("/m/qwen-chat"), {}) == "instruct"
    assert detect_kind("Anything-Instruct", None, {"instruct": False}) == "base"


def test_importing_models_does_not_import_torch():
    code = (
        "import sys, models; print(sorted({'torch', 'transformers', 'httpx'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_smoke_marker_instruct_flag(smoke_model_dir, tmp_path):
    folder = tmp_path / "instr"
    shutil.copytree(smoke_model_dir, folder)
    marker = folder / "evoselfcode-smoke.json"
    marker.write_text(json.dumps({"random_weights": True, "instruct": True}), encoding="utf-8")
    assert load_model(folder).info.kind == "instruct"
