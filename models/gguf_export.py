"""A Qwen2 model folder (transformers' safetensors) as a GGUF file for llama.cpp.

llama.cpp's own converter (``convert_hf_to_gguf.py``) is not installed by any package: it
lives in llama.cpp's source tree, and it identifies the pre-tokenizer by hashing the token ids
of a test string, which fails for a tokenizer it has never seen (the smoke and benchmark
models train their own BPE). Qwen2 is simple enough to write directly with the ``gguf``
package: the same tensor names (``gguf``'s own name map), the same metadata and vocabulary
rules as the converter's ``Qwen2Model`` and ``get_vocab_base``, and the pre-tokenizer named
``qwen2``, which is the split regex every tokenizer here uses (``models.bpe``). Quantized
files (Q8_0, Q4_0) come from llama.cpp's own quantizer through llama-cpp-python.

Both need the optional ``llama`` extra: ``pip install 'evoselfcode[llama]'``.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.errors import ModelLoadError, UnsupportedError

# llama.cpp's file types (llama.h ``llama_ftype``) for the types offered here
FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7}
LLAMA_EXTRA_HINT = (
    "install the optional llama.cpp extra: pip install 'evoselfcode[llama]' "
    "(builds llama.cpp from source: a few minutes; "
    'CMAKE_ARGS="-DGGML_NATIVE=ON" tunes it to this CPU)'
)


def require_llama_extra(*modules: str) -> None:
    """Raise ``UnsupportedError`` saying how to install the extra when one of ``modules``
    (default: ``gguf`` and ``llama_cpp``) is missing."""
    import importlib.util

    wanted = modules or ("gguf", "llama_cpp")
    missing = [m for m in wanted if importlib.util.find_spec(m) is None]
    if missing:
        raise UnsupportedError(f"{' and '.join(missing)} not installed: {LLAMA_EXTRA_HINT}")


def export_gguf(model_dir: str | Path, out_path: str | Path, *, file_type: str = "F32") -> Path:
    """Write the Qwen2 model in ``model_dir`` as GGUF (``F32`` or ``F16``) to ``out_path``."""
    require_llama_extra("gguf")
    import gguf
    import numpy as np
    from safetensors import safe_open
    from transformers import AutoTokenizer

    folder, out = Path(model_dir), Path(out_path)
    if file_type not in ("F32", "F16"):
        raise ValueError(f"export writes F32 or F16 (quantize afterwards), got {file_type!r}")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "qwen2":
        raise UnsupportedError(
            f"GGUF export handles Qwen2 models; {folder} is {config.get('model_type')!r}"
        )
    weight_files = sorted(folder.glob("*.safetensors"))
    if not weight_files:
        raise ModelLoadError(f"no .safetensors weights in {folder}")
    layers = int(config["num_hidden_layers"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, layers)
    writer = gguf.GGUFWriter(str(out), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN2])
    writer.add_name(folder.name)
    writer.add_context_length(int(config.get("max_position_embeddings") or 32768))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(layers)
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_head_count_kv(
        int(config.get("num_key_value_heads") or config["num_attention_heads"])
    )
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_file_type(FILE_TYPES[file_type])
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    tokens, token_types = _vocabulary(tokenizer, int(config["vocab_size"]), gguf)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    special = gguf.SpecialVocab(folder, load_merges=True)
    if "bos" not in special.add_special_token:
        writer.add_add_bos_token(False)  # Qwen prompts start without one (models.encoding)
    special.add_to_gguf(writer)

    for path in weight_files:
        with safe_open(path, framework="pt") as weights:
            for name in weights.keys():  # noqa: SIM118 (safe_open has no __iter__)
                if name == "lm_head.weight" and config.get("tie_word_embeddings"):
                    continue  # llama.cpp uses token_embd as the output of a tied model
                gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
                if gguf_name is None:
                    raise UnsupportedError(f"no GGUF name for tensor {name!r} of {folder}")
                data = weights.get_tensor(name).float().numpy()
                if file_type == "F16" and data.ndim == 2:
                    data = data.astype(np.float16)  # norms and biases stay float32, as upstream
                writer.add_tensor(gguf_name, data)
    return write_gguf(writer, out)


def write_gguf(writer: Any, out: Path) -> Path:
    """Write what ``writer`` (a ``gguf.GGUFWriter`` on ``out``) holds: header, metadata,
    tensors."""
    out.parent.mkdir(parents=True, exist_ok=True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


# llama.cpp's log levels (ggml_log_level) that reach our log; INFO (a line per tensor when
# loading or quantizing), DEBUG and continuations of those are dropped.
_LLAMA_LOG_LEVELS = {2: logging.WARNING, 3: logging.ERROR}
_llama_log_callback: Any = None  # referenced here, or ctypes would free what C calls


def import_llama_cpp() -> Any:
    """The ``llama_cpp`` module, with llama.cpp's warnings and errors in our log (logger
    ``llama.cpp``) and the rest of its log dropped: by default it prints all of it to stderr,
    which is the language server's log."""
    global _llama_log_callback
    require_llama_extra("llama_cpp")
    import ctypes

    import llama_cpp  # pyright: ignore[reportMissingImports]  (the optional llama extra)

    if _llama_log_callback is None:
        log = logging.getLogger("llama.cpp")
        last = [0]

        def forward(level: int, text: bytes, user_data: Any) -> None:
            last[0] = last[0] if level == 5 else level  # 5: the previous message goes on
            if last[0] in _LLAMA_LOG_LEVELS:
                log.log(_LLAMA_LOG_LEVELS[last[0]], "%s", text.decode("utf-8", "replace").rstrip())

        _llama_log_callback = llama_cpp.llama_log_callback(forward)
    # every time: llama-cpp-python's ``Llama`` class, if something imported it, sets its own
    llama_cpp.llama_log_set(_llama_log_callback, ctypes.c_void_p(0))
    return llama_cpp


def quantize_gguf(src: str | Path, dst: str | Path, file_type: str, *, threads: int = 0) -> Path:
    """Quantize the GGUF ``src`` to ``file_type`` (``Q8_0``, ``Q4_0``, ...) with llama.cpp."""
    llama_cpp = import_llama_cpp()
    if file_type not in FILE_TYPES:
        raise ValueError(f"file_type must be one of {sorted(FILE_TYPES)}, got {file_type!r}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FILE_TYPES[file_type]
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(
        str(src).encode(), str(dst).encode(), ctypes.pointer(params)
    )
    if status != 0:
        raise ModelLoadError(f"llama.cpp could not quantize {src} to {file_type} (status {status})")
    return Path(dst)


def gguf_file(model_dir: str | Path, file_type: str, cache_dir: str | Path) -> Path:
    """The GGUF of ``model_dir`` at ``file_type`` in ``cache_dir``, converted on first use
    (again when the weights change)."""
    folder = Path(model_dir)
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        raise ModelLoadError(f"no .safetensors weights in {folder}")
    root = Path(cache_dir)
    base = cached_conversion(
        weights, root, f"{folder.name}-F32", lambda tmp: export_gguf(folder, tmp, file_type="F32")
    )
    if file_type == "F32":
        return base
    return cached_conversion(
        weights, root, f"{folder.name}-{file_type}", lambda tmp: quantize_gguf(base, tmp, file_type)
    )


def cached_conversion(
    sources: list[Path], cache_dir: Path, stem: str, write: Callable[[Path], object]
) -> Path:
    """``cache_dir/<stem>-<key>.gguf``, written by ``write(path)`` when it is not there yet.

    The key hashes the sources' paths, sizes and modification times, so changed sources
    convert again; the file is written under a temporary name, so an interrupted conversion
    leaves no half file behind.
    """
    stamp = "|".join(
        f"{p.resolve()}-{p.stat().st_size}-{p.stat().st_mtime_ns}" for p in sources if p.is_file()
    )
    key = hashlib.sha256(stamp.encode()).hexdigest()[:12]
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{stem}-{key}.gguf"
    if not target.is_file():
        _atomic(target, write)
    return target


def _atomic(target: Path, write: Any) -> None:
    """Write through a temporary name, so an interrupted run leaves no half file behind."""
    tmp = target.with_name(target.name + ".partial")
    try:
        write(tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _rope_theta(config: dict[str, Any]) -> float:
    rope = config.get("rope_parameters") or {}  # transformers 5 nests it here
    return float(rope.get("rope_theta") or config.get("rope_theta") or 10000.0)


def _vocabulary(tokenizer: Any, vocab_size: int, gguf: Any) -> tuple[list[str], list[int]]:
    """Every row of the embedding as a token, as llama.cpp's converter lists them: rows past
    the tokenizer (Qwen pads its embedding to 151,936) are unused ``[PAD<i>]`` tokens;
    special added tokens are control tokens."""
    by_id = {i: token for token, i in tokenizer.get_vocab().items()}
    if max(by_id) >= vocab_size:
        raise UnsupportedError(f"the tokenizer has ids past the embedding's {vocab_size} rows")
    added = tokenizer.added_tokens_decoder
    tokens: list[str] = []
    types: list[int] = []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(by_id[i])
            types.append(
                gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED
            )
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    return tokens, types
