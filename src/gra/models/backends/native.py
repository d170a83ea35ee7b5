"""Loading a GGUF model with llama-cpp-python, with or without llama.cpp's extra
buffer types.

"Extra buffer types" are llama.cpp's CPU-specific weight layouts: the AMX tiles on
CPUs that report AMX, and the repacked (interleaved) layouts of Q4_0/Q4_K/IQ4_NL
weights for AVX2/AVX512 kernels. They are on by default; on some CPUs the AMX path
crashes the process (``gra.models.cpu_probe`` finds out, once, in a subprocess).
``llama_cpp.Llama`` takes no argument for them, so ``load_llama`` sets the model
parameter ``use_extra_bufts`` through the defaults ``Llama`` starts from.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_loading = threading.Lock()  # the defaults are swapped process-wide while a model loads


def load_llama(path: str | Path, *, extra_buffers: bool = True, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path=path, **kwargs)``, with ``use_extra_bufts`` set."""
    import llama_cpp.llama_cpp as C
    from llama_cpp import Llama

    with _loading:
        original = C.llama_model_default_params

        def defaults():
            params = original()
            params.use_extra_bufts = extra_buffers
            return params

        C.llama_model_default_params = defaults
        try:
            return Llama(model_path=str(path), **kwargs)
        finally:
            C.llama_model_default_params = original


def load_weights(path: str | Path, threads: int, *, extra_buffers: bool = True) -> Any:
    """A ``Llama`` for a backend that decodes in contexts of its own: it loads the
    weights (mmapped, shared with those contexts) and provides the tokenizer and chat
    handler; its own context is never decoded with, so it is kept tiny."""
    return load_llama(
        path,
        extra_buffers=extra_buffers,
        n_ctx=256,
        n_batch=64,
        n_threads=threads,
        verbose=False,
    )
