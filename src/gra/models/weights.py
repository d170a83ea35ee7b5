"""Weight types for batched decoding on a CPU: read a GGUF's type, convert once.

llama.cpp decodes many sequences together fast only where its CPU matrix kernels
tile over the batch (llamafile's tinyBLAS: F16, BF16, Q8_0, Q4_0, Q5_0; repacked
Q4_0). Q4_1 -- the embedded SmolLM2's type -- has no such kernel: past 8 tokens
a decode step gets no cheaper per token, so batching saves only the weight reads.
Converting Q4_1 to BF16 (or Q8_0) once made batched decoding of 8-16 sequences
1.3-1.9x faster on one machine with the same model: the new values are the old ones
re-rounded (perplexity 8.870 vs 8.890 on the review dev set; ``docs/backends.md``,
``benchmarks/weight_types.py``). On another CPU the same bf16 file was slower than
the shipped one, so ``weights: auto`` does not decide from CPU flags: it measures
the shipped file and both conversions (``gra.models.cpu_probe``) and keeps the fastest.

Converted files live in the cache dir, named by the source model's id and the
type; they are written to a temporary file and renamed, so an interrupted
conversion leaves nothing behind.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import struct
import tempfile
from pathlib import Path

from gra.core.errors import ModelUnavailable

#: ``models.NAME.weights`` values; "shipped" = the file as it is.
CHOICES = ("auto", "shipped", "bf16", "f16", "q8_0")
#: llama.cpp's ``llama_ftype`` for each conversion target.
TARGETS = {"f16": 1, "q8_0": 7, "bf16": 32}
#: ``general.file_type`` values "auto" tries conversions of: no batched CPU kernel.
NO_BATCH_KERNEL = {3: "Q4_1"}

# GGUF metadata value types -> struct format of one fixed-size value
_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


def gguf_file_type(path: Path) -> int | None:
    """``general.file_type`` from a GGUF header (None when absent or unreadable)."""
    try:
        with open(path, "rb") as f:
            return _read_file_type(f)
    except (OSError, struct.error, ValueError):
        return None


def _read_file_type(f) -> int | None:
    def read(fmt: str):
        size = struct.calcsize("<" + fmt)
        data = f.read(size)
        if len(data) != size:
            raise ValueError("truncated GGUF header")
        return struct.unpack("<" + fmt, data)[0]

    def skip(vtype: int) -> None:
        if vtype == _STRING:
            f.seek(read("Q"), os.SEEK_CUR)
        elif vtype == _ARRAY:
            etype, count = read("I"), read("Q")
            if etype in _FIXED:
                f.seek(count * struct.calcsize("<" + _FIXED[etype]), os.SEEK_CUR)
            else:
                for _ in range(count):
                    skip(etype)
        elif vtype in _FIXED:
            read(_FIXED[vtype])
        else:
            raise ValueError(f"unknown GGUF value type {vtype}")

    if f.read(4) != b"GGUF" or read("I") < 2:
        return None
    read("Q")  # tensors
    for _ in range(read("Q")):
        key = f.read(read("Q"))
        vtype = read("I")
        if key == b"general.file_type" and vtype in _FIXED:
            return int(read(_FIXED[vtype]))
        skip(vtype)
    return None


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether llama.cpp was built for, and runs on, a CPU with BF16 dot products."""
    import llama_cpp

    return b"AVX512_BF16 = 1" in llama_cpp.llama_print_system_info()


def converted(path: Path, target: str, source_id: str, cache: Path) -> Path:
    """``path``'s weights as ``target`` (a key of TARGETS), converted once into ``cache``."""
    if target not in TARGETS:
        raise ValueError(f"cannot convert to {target!r}")
    tag = hashlib.sha256(source_id.encode()).hexdigest()[:12]
    out = cache / "models" / f"{tag}-{path.stem}.{target}.gguf"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
    os.close(fd)
    try:
        rc = _quantize(path, Path(tmp), TARGETS[target])
        if rc != 0:
            raise ModelUnavailable(
                f"converting {path.name} to {target} failed (llama.cpp code {rc}); "
                "set this model's weights: shipped in the config to use the file as it is",
                where=source_id,
            )
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _quantize(src: Path, dst: Path, ftype: int) -> int:
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.nthread = 0
    log = logging.getLogger("llama-cpp-python")  # its log callback prints below this level
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return int(
            llama_cpp.llama_model_quantize(
                str(src).encode(), str(dst).encode(), ctypes.byref(params)
            )
        )
    finally:
        log.setLevel(level)
