"""The llama.cpp engine under ``LocalModel`` (backend ``llama.cpp``): the same decoding loops,
prompts, stop rules, cancellation, time box, prefix reuse and speculation as the transformers
engine, with llama.cpp's CPU kernels computing the forward passes.

The model folder is converted to GGUF once (``models.gguf_export.gguf_file``, cached) at the
type the ``quantization`` setting names; the prompt's token ids come from our own tokenizer,
so llama.cpp sees exactly the ids the transformers engine sees. A LoRA adapter (peft folder)
is converted to a GGUF adapter (``models.gguf_lora``) and switched on the loaded model at run
time, as llama.cpp's server does, so a promoted adapter is what the user is served.

llama.cpp holds one key/value sequence per context, so this engine decodes one row at a time
(``batched = False``): ``LocalModel`` then runs batches and candidates one after another, each
candidate reusing the prompt's keys and values through the prefix cache.
Needs the optional ``llama`` extra (``pip install 'evoselfcode[llama]'``).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.adapters import AdapterNames
from models.errors import InvalidRequestError, ModelLoadError, UnsupportedError
from models.gguf_export import import_llama_cpp, require_llama_extra

if TYPE_CHECKING:
    import torch


# The GGUF type each ``quantization`` setting asks for. ``16bit``, what ``auto`` picks on a
# CPU, keeps greedy output as float32 gives it, as the transformers engine's 16bit does; the
# 8 and 4 bit types are faster and change some of it (bench/cpu_latency.py measures how much).
GGUF_TYPES = {"none": "F32", "16bit": "F16", "8bit": "Q8_0", "4bit": "Q4_0"}


class LlamaKV:
    """The context's one key/value sequence, as the decoding loops' cache: how many positions
    it holds, and ``crop`` to drop the last ones."""

    def __init__(self, engine: LlamaCppEngine) -> None:
        self._engine = engine
        self.length = 0

    def get_seq_length(self) -> int:
        return self.length

    def crop(self, keep: int) -> None:
        """Keep ``keep`` positions; a negative ``keep`` removes that many (transformers')."""
        keep = self.length + keep if keep < 0 else keep
        self._engine.remove_after(keep)
        self.length = keep


class LlamaCppEngine:
    """One llama.cpp model and context on a GGUF file; one sequence at a time."""

    batched = False
    stack_caches = None  # one sequence: ``LocalModel`` runs batches row by row
    device = "cpu"

    def __init__(
        self,
        gguf_path: str | Path,
        *,
        eos_ids: list[int],
        layers: int,
        adapter_cache: str | Path,
        context: int = 4096,
        threads: int = 0,
        batch: int = 512,
    ) -> None:
        require_llama_extra()
        # llama-cpp-python's ``Llama`` class is not used: without ``verbose`` it points the
        # process's stdout at /dev/null while it loads, which loses the replies of a language
        # server on stdio; with it, llama.cpp's whole log goes to stderr.
        lib: Any = import_llama_cpp()
        self._lib = lib
        self.path = Path(gguf_path)
        self.threads = threads or _torch_threads()
        lib.llama_backend_init()
        self._model: Any = lib.llama_model_load_from_file(
            str(self.path).encode("utf-8"), lib.llama_model_default_params()
        )
        if not self._model:
            raise ModelLoadError(f"llama.cpp cannot load {self.path} (see the log above)")
        params = lib.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = context, batch, batch
        params.n_threads = params.n_threads_batch = self.threads
        self._ctx: Any = lib.llama_init_from_model(self._model, params)
        if not self._ctx:
            lib.llama_model_free(self._model)
            raise ModelLoadError(f"llama.cpp cannot make a context of {context} tokens")
        self.eos_ids = eos_ids
        self.context = context
        self.vocab = int(lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self._model)))
        self._batch_size = batch
        self._batch: Any = lib.llama_batch_init(batch, 0, 1)
        self._memory: Any = lib.llama_get_memory(self._ctx)
        self._kv: LlamaKV | None = None
        self.adapters = GgufAdapterSet(self, Path(adapter_cache), layers)

    # -- the decoding loops' interface ----------------------------------------------------

    def new_cache(self) -> LlamaKV:
        """An empty sequence: the context has one, so the previous cache is emptied too."""
        self.remove_after(0)
        self._kv = LlamaKV(self)
        return self._kv

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        cache: LlamaKV,
        attention_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """The last position's logits ``[1, vocab]``."""
        if attention_mask is not None:
            raise UnsupportedError("the llama.cpp engine decodes one row at a time")
        return self._run(input_ids, position_ids, cache, 1)[:, -1]

    def forward_tail(
        self, input_ids: torch.Tensor, position_ids: torch.Tensor, cache: LlamaKV, keep: int
    ) -> torch.Tensor:
        """Logits of the last ``keep`` fed positions ``[1, keep, vocab]`` (a draft's check)."""
        return self._run(input_ids, position_ids, cache, keep)

    def remove_after(self, keep: int) -> None:
        """Drop the keys and values of every position from ``keep`` on."""
        self._lib.llama_memory_seq_rm(self._memory, 0, keep, -1)

    def close(self) -> None:
        if self._ctx is None:
            return
        self.adapters.close()
        self._lib.llama_batch_free(self._batch)
        self._lib.llama_free(self._ctx)
        self._lib.llama_model_free(self._model)
        self._ctx = self._model = self._batch = None

    # -- internals --------------------------------------------------------------------------

    def _run(
        self, input_ids: torch.Tensor, position_ids: torch.Tensor, cache: LlamaKV, keep: int
    ) -> torch.Tensor:
        import numpy as np
        import torch

        if input_ids.shape[0] != 1:
            raise UnsupportedError("the llama.cpp engine decodes one row at a time")
        if cache is not self._kv:
            raise InvalidRequestError("this cache is no longer the context's sequence")
        tokens = input_ids[0].tolist()
        start = int(position_ids[0, 0])
        if start != cache.length:
            raise InvalidRequestError(f"position {start} does not follow {cache.length}")
        if start + len(tokens) > self.context:
            raise InvalidRequestError(
                f"{start + len(tokens)} tokens do not fit llama.cpp's context of {self.context}"
            )
        first_kept = len(tokens) - keep
        rows: list[Any] = []
        batch = self._batch
        for offset in range(0, len(tokens), self._batch_size):
            chunk = tokens[offset : offset + self._batch_size]
            batch.n_tokens = len(chunk)
            wanted = []
            for i, token in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = start + offset + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = offset + i >= first_kept
                if offset + i >= first_kept:
                    wanted.append(i)
            status = self._lib.llama_decode(self._ctx, batch)
            if status != 0:
                # the positions fed before a failure stay in the sequence; drop them
                self.remove_after(cache.length)
                raise ModelLoadError(f"llama.cpp could not evaluate the batch (status {status})")
            cache.length += len(chunk)
            for i in wanted:
                pointer = self._lib.llama_get_logits_ith(self._ctx, i)
                rows.append(np.ctypeslib.as_array(pointer, shape=(self.vocab,)).copy())
        return torch.from_numpy(np.stack(rows))[None]  # [1, keep, vocab]


def _torch_threads() -> int:
    """As many threads as torch computes with (``OMP_NUM_THREADS``, else the physical cores):
    llama.cpp's threads spin while they wait for each other: with 2 threads on a 2-core
    machine whose other core was busy, 64 tokens of the small model took 3.8 s instead of
    67 ms with 1 thread."""
    import torch

    return max(1, torch.get_num_threads())


class GgufAdapterSet(AdapterNames):
    """LoRA adapters on a llama.cpp model: loaded from peft folders (converted to GGUF),
    switched on the context without reloading the base; the same interface as
    ``models.adapters.AdapterSet``."""

    def __init__(self, engine: LlamaCppEngine, cache_dir: Path, layers: int) -> None:
        super().__init__()
        self._engine = engine
        self._cache_dir = cache_dir
        self._layers = layers
        self._handles: dict[str, Any] = {}

    def load(self, path: str | Path, name: str) -> None:
        """Load the adapter in ``path`` as ``name``; the active adapter does not change."""
        from models.gguf_lora import gguf_adapter_file

        folder = Path(path).expanduser()
        self._check_new(name)
        gguf_path = gguf_adapter_file(folder, self._cache_dir, layers=self._layers)
        lib, model = self._engine._lib, self._engine._model
        handle = lib.llama_adapter_lora_init(model, str(gguf_path).encode("utf-8"))
        if not handle:
            raise ModelLoadError(
                f"llama.cpp could not load the LoRA adapter in {folder} (as {gguf_path}); "
                "was it trained for this base model?"
            )
        self._paths[name], self._handles[name] = folder, handle

    def set(self, name: str | None) -> None:
        """Make ``name`` the active adapter; ``None`` serves the plain base model."""
        self._check_loaded(name)
        lib, ctx = self._engine._lib, self._engine._ctx
        if name is None:
            status = lib.llama_set_adapters_lora(ctx, None, 0, None)
        else:
            handles = (lib.llama_adapter_lora_p_ctypes * 1)(self._handles[name])
            scales = (ctypes.c_float * 1)(1.0)
            status = lib.llama_set_adapters_lora(ctx, handles, 1, scales)
        if status != 0:
            raise ModelLoadError(f"llama.cpp could not switch to adapter {name!r} ({status})")
        self.active = name

    def unload(self, name: str) -> None:
        """Remove ``name`` from the model, freeing its weights."""
        self._check_loaded(name)
        if self.active == name:
            self.set(None)
        self._engine._lib.llama_adapter_lora_free(self._handles.pop(name))
        del self._paths[name]

    def close(self) -> None:
        for name in list(self._paths):
            self.unload(name)
