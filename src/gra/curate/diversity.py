"""Diversity metrics for instruction data, and the per-file / per-generator report.

Lexical metrics read every sample, streaming (memory grows with the number of
distinct words and n-grams, never with the square of the number of samples):

- **distinct-n** (n = 1, 2, 3): distinct n-grams / all n-grams over the whole
  file (corpus level); n-grams never cross from one text into the next.
- **compression ratio**: UTF-8 bytes of the texts joined by newlines / bytes of
  their gzip compression (zlib, gzip container, level 9). Higher = more repetitive.

Sampled metrics, each on a uniform random sample of the row's samples. Every
sample draws one random priority (``random.Random(seed)``, in file order) and a
row's sample is its k lowest-priority samples, so samples are nested: the
self-BLEU sample lies inside the embedding sample, and a generator's share of
the file's sample lies inside that generator's sample.

- **self-BLEU**: mean over the sampled texts of BLEU-4 (uniform weights) of the
  text against all *other* sampled texts as references. Higher = more alike.
- **mean pairwise cosine distance**: 1 - mean over pairs i < j of cos(e_i, e_j).
- **Vendi score**: exp(entropy of the eigenvalues of K/n), K = E Eᵀ the cosine
  similarity matrix; between 1 (all items alike) and n (all orthogonal).

Tokens are lowercase words: ``dedup.normalize`` (casefold, Unicode punctuation
stripped from both ends of each word, whitespace collapsed) split on whitespace,
so "Hello, World!" is ``["hello", "world"]``.
"""

from __future__ import annotations

import heapq
import math
import random
import zlib
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import numpy as np

from gra.curate.minhash import _strip_punct
from gra.io.datasets import TEXT_FIELDS, read_samples, sample_text

__all__ = [
    "BLEU_EPSILON",
    "BLEU_MAX_N",
    "COMPRESSION_LEVEL",
    "DEFAULT_BLEU_SAMPLE",
    "DEFAULT_EMBED_SAMPLE",
    "DEFAULT_SEED",
    "FIELDS",
    "METHODS",
    "NO_GENERATOR",
    "DistinctCounter",
    "Embedder",
    "GzipRatio",
    "Reservoir",
    "Vocabulary",
    "bleu",
    "compression_ratio",
    "distinct_n",
    "field_text",
    "file_report",
    "mean_pairwise_cosine_distance",
    "ngram_counts",
    "ngram_hashes",
    "report",
    "self_bleu",
    "tokenize",
    "vendi_score",
]

FIELDS = TEXT_FIELDS
DISTINCT_ORDERS = (1, 2, 3)
BLEU_MAX_N = 4
BLEU_EPSILON = 0.1
COMPRESSION_LEVEL = 9
DEFAULT_BLEU_SAMPLE = 500
DEFAULT_EMBED_SAMPLE = 2000
DEFAULT_SEED = 0
EMBED_BATCH = 64
NO_GENERATOR = "(no generator)"

METHODS = {
    "tokens": "lowercase words: gra.curate.minhash.normalize(text).split()",
    "distinct_n": "distinct n-grams / all n-grams over the whole file, n-grams within one text",
    "self_bleu": (
        f"mean BLEU-{BLEU_MAX_N} (uniform weights) of each sampled text against the other "
        f"sampled texts; clipped counts use the max count over references; brevity penalty "
        f"from the closest reference length (ties: shorter); an order with no match counts "
        f"{BLEU_EPSILON}/n-grams (Chen & Cherry 2014, method 1); no unigram match gives 0"
    ),
    "compression_ratio": (
        f"UTF-8 bytes of the texts joined by newlines / gzip size (zlib, level {COMPRESSION_LEVEL})"
    ),
    "cosine_distance": "1 - mean cosine similarity over all pairs of the embedded sample",
    "vendi": (
        "exp(-sum l log l) over the eigenvalues l of K/n, K = cosine similarity matrix of the "
        "embedded sample; computed from E^T E / n (d x d) when the dimension d < n"
    ),
}

T = TypeVar("T")


class Embedder(Protocol):
    """What ``report`` needs from ``gra.curate.embed``: rows of ``embed`` are L2-normalised."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


# ---------------------------------------------------------------- tokens and n-grams


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens: ``normalize(text).split()`` ("Hello, World!" -> hello, world).

    Same result as ``dedup.normalize``, faster: a word that starts and ends with a
    letter or digit has no edge punctuation to strip.
    """
    out = [
        w if w[0].isalnum() and w[-1].isalnum() else _strip_punct(w)
        for w in text.casefold().split()
    ]
    return [w for w in out if w] if "" in out else out


class Vocabulary:
    """Maps each distinct token to a small int id (memory grows with distinct words)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """The tokens' ids; a new token gets the next free id."""
        ids = self._ids
        out = [ids.get(t, -1) for t in tokens]
        if -1 in out:
            for k, t in enumerate(tokens):
                if out[k] == -1:
                    out[k] = ids.setdefault(t, len(ids))
        return out


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; sorts ``values`` in place (no second copy in memory).

    ``np.unique`` hashes and is many times slower for uint64. The stable sort
    (timsort) is fast on inputs made of sorted runs, as in merges.
    """
    if values.size == 0:
        return values
    values.sort(kind="stable")
    v = values
    keep = np.empty(v.size, dtype=bool)
    keep[0] = True
    np.not_equal(v[1:], v[:-1], out=keep[1:])
    return v[keep]


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijection of uint64 that scatters nearby inputs."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def ngram_hashes(ids: np.ndarray, lengths: np.ndarray, max_n: int) -> list[np.ndarray]:
    """64-bit hashes of every n-gram, n = 1..``max_n``, inside each of a chunk of texts.

    ``ids`` holds the texts' token ids end to end, ``lengths`` the tokens per text;
    n-grams that would span two texts are left out. Unigram hashes are a bijection
    of the ids (exact); longer n-grams chain ``mix(h * C + id)``, where two distinct
    n-grams collide with probability about 2^-64.
    """
    ids = ids.astype(np.uint64, copy=False)
    ends = np.repeat(np.cumsum(lengths), lengths)  # exclusive end of each token's text
    starts = np.arange(ids.size)
    h = _mix(ids + _GOLDEN)
    out = [h]
    for n in range(2, max_n + 1):
        h = _mix(h[:-1] * _GOLDEN + ids[n - 1 :])
        out.append(h[starts[: h.size] + n <= ends[: h.size]])
    return out


class DistinctCounter:
    """Streaming distinct-n for n = 1..``max_n``: all and distinct n-grams over many texts.

    Distinct n-grams are kept as sorted arrays of 64-bit hashes (8 bytes each);
    new hashes wait in a buffer of ``flush_tokens`` token ids and are merged in
    (sort, drop repeats) once the pending hashes reach the size of the kept set, so
    merging costs O(N log N) over the whole stream.
    """

    flush_tokens = 1 << 16
    min_merge = 1 << 20

    def __init__(self, max_n: int = max(DISTINCT_ORDERS)):
        if max_n < 1:
            raise ValueError(f"max_n must be >= 1, got {max_n}")
        self.max_n = max_n
        self.totals = [0] * max_n
        self._unique = [np.empty(0, dtype=np.uint64) for _ in range(max_n)]
        self._pending: list[list[np.ndarray]] = [[] for _ in range(max_n)]
        self._pending_size = [0] * max_n
        self._ids: list[int] = []
        self._lengths: list[int] = []

    def add(self, ids: Sequence[int]) -> None:
        """Count the n-grams of one text, given as token ids (see ``Vocabulary``)."""
        m = len(ids)
        for k in range(self.max_n):
            self.totals[k] += max(0, m - k)
        self._ids.extend(ids)
        self._lengths.append(m)
        if len(self._ids) >= self.flush_tokens:
            self._hash_chunk()

    def _hash_chunk(self) -> None:
        if not self._lengths:
            return
        ids = np.asarray(self._ids, dtype=np.uint64)
        lengths = np.asarray(self._lengths, dtype=np.int64)
        self._ids, self._lengths = [], []
        for k, h in enumerate(ngram_hashes(ids, lengths, self.max_n)):
            h = _sorted_unique(h)
            self._pending[k].append(h)
            self._pending_size[k] += h.size
            if self._pending_size[k] >= max(self.min_merge, self._unique[k].size):
                self._merge(k)

    def _merge(self, k: int) -> None:
        if self._pending[k]:
            merged = np.concatenate([self._unique[k], *self._pending[k]])
            self._unique[k] = _sorted_unique(merged)
            self._pending[k], self._pending_size[k] = [], 0

    def copy(self) -> DistinctCounter:
        """An independent copy of the counts so far."""
        other = DistinctCounter(self.max_n)
        other.totals = list(self.totals)
        other._unique = list(self._unique)  # kept arrays are replaced, never changed in place
        other._pending = [list(p) for p in self._pending]
        other._pending_size = list(self._pending_size)
        other._ids, other._lengths = list(self._ids), list(self._lengths)
        return other

    def distinct_counts(self) -> list[int]:
        """Distinct n-grams per order (index 0 is n = 1)."""
        self._hash_chunk()
        for k in range(self.max_n):
            self._merge(k)
        return [u.size for u in self._unique]

    def distinct(self) -> dict[int, float | None]:
        """distinct-n per order n; None where the texts hold no n-gram of that order."""
        counts = self.distinct_counts()
        return {
            k + 1: (counts[k] / self.totals[k] if self.totals[k] else None)
            for k in range(self.max_n)
        }


def distinct_n(
    texts: Iterable[str], orders: Sequence[int] = DISTINCT_ORDERS
) -> dict[int, float | None]:
    """Corpus-level distinct-n of ``texts``: distinct n-grams / all n-grams, per order n.

    ``["a b a", "b a"]`` has unigrams a b a b a (2 distinct of 5: 0.4), bigrams
    ab ba ba (2 of 3) and one trigram (1.0). None for an order with no n-gram.
    """
    vocab = Vocabulary()
    counter = DistinctCounter(max(orders))
    for text in texts:
        counter.add(vocab.ids(tokenize(text)))
    result = counter.distinct()
    return {n: result[n] for n in orders}


# ---------------------------------------------------------------- compression


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gra-gzip")
    return _POOL


class GzipRatio:
    """Streaming compression ratio: bytes of texts joined by newlines / their gzip size.

    Texts are compressed in chunks of about 1 MB on a worker thread (zlib releases
    the GIL), one chunk in flight at a time, so chunks are compressed in order
    while the caller tokenises the next texts.
    """

    _chunk_bytes = 1 << 20

    def __init__(self, level: int = COMPRESSION_LEVEL):
        self.level = level
        self._zip = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: gzip container
        self.raw_bytes = 0
        self.compressed_bytes = 0
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._count = 0
        self._in_flight: Future[bytes] | None = None

    def add(self, text: str) -> None:
        data = text.encode("utf-8")
        if self._count:
            data = b"\n" + data
        self._count += 1
        self.raw_bytes += len(data)
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= self._chunk_bytes:
            self._feed()

    def _wait(self) -> None:
        if self._in_flight is not None:
            self.compressed_bytes += len(self._in_flight.result())
            self._in_flight = None

    def _feed(self) -> None:
        self._wait()
        if self._buffer:
            chunk = b"".join(self._buffer)
            self._buffer, self._buffered = [], 0
            self._in_flight = _pool().submit(self._zip.compress, chunk)

    def copy(self) -> GzipRatio:
        """An independent copy of the state so far (the compressor included)."""
        self._wait()
        other = GzipRatio.__new__(GzipRatio)
        other.__dict__.update(self.__dict__)
        other._zip = self._zip.copy()
        other._buffer = list(self._buffer)
        return other

    def ratio(self) -> float:
        """Raw bytes / gzip bytes of everything added (finishes a copy; more adds stay valid)."""
        self._feed()
        self._wait()
        tail = len(self._zip.copy().flush())
        return self.raw_bytes / (self.compressed_bytes + tail)


def compression_ratio(texts: Iterable[str], level: int = COMPRESSION_LEVEL) -> float:
    """UTF-8 bytes of ``"\\n".join(texts)`` / the size of its gzip compression at ``level``."""
    g = GzipRatio(level)
    for text in texts:
        g.add(text)
    return g.ratio()


# ---------------------------------------------------------------- BLEU


def ngram_counts(tokens: Sequence[str], max_n: int = BLEU_MAX_N) -> list[Counter]:
    """Counts of the n-grams (tuples) of ``tokens`` for n = 1..max_n (index 0 is n = 1)."""
    return [
        Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        for n in range(1, max_n + 1)
    ]


def _closest_ref_length(hyp_len: int, ref_lens: Iterable[int]) -> int:
    """The reference length closest to the hypothesis length; ties go to the shorter."""
    return min(ref_lens, key=lambda r: (abs(r - hyp_len), r))


def _bleu_from_counts(
    matches: Sequence[int], totals: Sequence[int], hyp_len: int, ref_len: int, epsilon: float
) -> float:
    """BLEU from clipped match counts and n-gram totals per order, with smoothing 1."""
    if hyp_len == 0 or matches[0] == 0:
        return 0.0
    log_p = 0.0
    for m, t in zip(matches, totals, strict=True):
        p = m / t if m > 0 else epsilon / max(t, 1)
        log_p += math.log(p)
    bp = 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)
    return bp * math.exp(log_p / len(matches))


def bleu(
    hypothesis: Sequence[str],
    references: Sequence[Sequence[str]],
    max_n: int = BLEU_MAX_N,
    epsilon: float = BLEU_EPSILON,
) -> float:
    """Sentence BLEU-``max_n`` with uniform weights, as in Papineni et al. (2002).

    p_n = sum over the hypothesis' n-grams g of min(count(g), max over references
    of count_ref(g)) / number of hypothesis n-grams; an order with no match uses
    ``epsilon / max(1, n-grams)`` instead of 0 (Chen & Cherry 2014, method 1, as
    nltk's ``SmoothingFunction().method1``). Brevity penalty exp(1 - r/c) when the
    hypothesis length c is not above r, the closest reference length (ties: the
    shorter). BLEU = BP * exp(mean log p_n); 0 for an empty hypothesis, no
    references, or no unigram match.
    """
    if not hypothesis or not references:
        return 0.0
    hyp = ngram_counts(hypothesis, max_n)
    refs = [ngram_counts(r, max_n) for r in references]
    matches, totals = [], []
    for k in range(max_n):
        best: Counter = Counter()
        for r in refs:
            best |= r[k]  # union: the max count of each n-gram over the references
        matches.append(sum(min(c, best[g]) for g, c in hyp[k].items()))
        totals.append(sum(hyp[k].values()))
    ref_len = _closest_ref_length(len(hypothesis), (len(r) for r in references))
    return _bleu_from_counts(matches, totals, len(hypothesis), ref_len, epsilon)


def self_bleu(
    texts: Sequence[Sequence[str]], max_n: int = BLEU_MAX_N, epsilon: float = BLEU_EPSILON
) -> float | None:
    """Mean over i of ``bleu(texts[i], all other texts)``; None for fewer than two texts.

    ``texts`` are token lists. Runs in time linear in the total number of
    n-grams: per n-gram it keeps the largest and second-largest count over all
    texts, so the max over "every text but i" is the largest, or the second
    largest when text i holds the largest.
    """
    m = len(texts)
    if m < 2:
        return None
    counts = [ngram_counts(t, max_n) for t in texts]
    top1: list[dict[tuple, int]] = [{} for _ in range(max_n)]
    top2: list[dict[tuple, int]] = [{} for _ in range(max_n)]
    for c in counts:
        for k in range(max_n):
            t1, t2 = top1[k], top2[k]
            for g, v in c[k].items():
                first = t1.get(g, 0)
                if v > first:
                    t1[g] = v
                    t2[g] = first
                elif v > t2.get(g, 0):
                    t2[g] = v
    lengths = sorted(len(t) for t in texts)
    total = 0.0
    for tokens, c in zip(texts, counts, strict=True):
        matches, totals = [], []
        for k in range(max_n):
            t1, t2 = top1[k], top2[k]
            # v < top1: some other text has more, so v is not clipped; v == top1: clip to top2
            matches.append(sum(v if v < t1[g] else t2.get(g, 0) for g, v in c[k].items()))
            totals.append(sum(c[k].values()))
        ref_len = _closest_other_length(len(tokens), lengths)
        total += _bleu_from_counts(matches, totals, len(tokens), ref_len, epsilon)
    return total / m


def _closest_other_length(hyp_len: int, lengths: Sequence[int]) -> int:
    """Closest length to ``hyp_len`` in sorted ``lengths`` minus one copy of ``hyp_len``."""
    lo, hi = bisect_left(lengths, hyp_len), bisect_right(lengths, hyp_len)
    if hi - lo >= 2:
        return hyp_len
    near = []
    if lo > 0:
        near.append(lengths[lo - 1])
    if hi < len(lengths):
        near.append(lengths[hi])
    return _closest_ref_length(hyp_len, near)


# ---------------------------------------------------------------- embeddings


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, in float64 (a zero row stays zero)."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-d array (n, dim), got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def mean_pairwise_cosine_distance(embeddings: np.ndarray) -> float | None:
    """1 - mean of cos(e_i, e_j) over all pairs i < j; None for fewer than two rows.

    Uses sum_{i<j} e_i.e_j = (|sum e|^2 - sum |e_i|^2) / 2 on unit rows: O(n d)
    time and memory, no n x n matrix.
    """
    x = _unit_rows(embeddings)
    n = x.shape[0]
    if n < 2:
        return None
    s = x.sum(axis=0)
    pair_sum = (float(s @ s) - float((x * x).sum())) / 2.0
    return 1.0 - pair_sum / (n * (n - 1) / 2.0)


def vendi_score(embeddings: np.ndarray, form: str = "auto") -> float | None:
    """Vendi score (Friedman & Dieng 2023) with the cosine kernel: exp(-sum l log l).

    l are the eigenvalues of K/n, K = X Xᵀ for the unit-normalised rows X (n x d).
    The nonzero eigenvalues of X Xᵀ and Xᵀ X are the same, so ``form="dual"``
    decomposes the d x d matrix Xᵀ X / n instead; ``"auto"`` picks it when d < n.
    n identical rows give 1, n orthogonal rows give n. None for no rows.
    """
    if form not in ("auto", "primal", "dual"):
        raise ValueError(f"form must be auto, primal or dual, got {form!r}")
    x = _unit_rows(embeddings)
    n, d = x.shape
    if n == 0:
        return None
    dual = d < n if form == "auto" else form == "dual"
    gram = x.T @ x if dual else x @ x.T
    eig = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    if eig.sum() <= 0:
        return None
    eig = eig / eig.sum()  # = eigenvalues of K/n for unit rows (trace n); guards rounding
    eig = eig[eig > 0]
    return float(np.exp(-(eig * np.log(eig)).sum()))


# ---------------------------------------------------------------- sampling


class Reservoir(Generic[T]):
    """A uniform random sample of up to ``k`` items of a stream (bottom-k sampling).

    Each item comes with a random priority in [0, 1); the sample is the ``k``
    items with the smallest priorities (a max-heap holds them). Offering the same
    items with the same priorities to several reservoirs gives nested samples: the
    items of a generator that are in the whole file's sample are also in that
    generator's sample, so fewer distinct texts need embedding. ``k = 0`` keeps
    every item.
    """

    def __init__(self, k: int):
        if k < 0:
            raise ValueError(f"sample size must be >= 0, got {k}")
        self.k = k
        self.seen = 0
        self._heap: list[tuple[float, int, T]] = []  # (-priority, position, item)

    def add(self, item: T, priority: float) -> None:
        entry = (-priority, self.seen, item)
        self.seen += 1
        if not self.k:
            self._heap.append(entry)
        elif len(self._heap) < self.k:
            heapq.heappush(self._heap, entry)
        elif entry[0] > self._heap[0][0]:
            heapq.heapreplace(self._heap, entry)

    def copy(self) -> Reservoir[T]:
        other: Reservoir[T] = Reservoir(self.k)
        other.seen = self.seen
        other._heap = list(self._heap)
        return other

    def items(self) -> list[T]:
        """The sample, in stream order."""
        return [item for _, _, item in sorted(self._heap, key=lambda e: e[1])]

    def __len__(self) -> int:
        return len(self._heap)


# ---------------------------------------------------------------- the report


class _Item(NamedTuple):
    """One sample as the report's accumulators see it."""

    index: int  # position in the file
    priority: float  # random, for sampling (the same for every row the sample is in)
    text: str
    tokens: list[str] | None  # None where the lexical counts are made elsewhere (on Ray)
    ids: list[int] | None


class Lexical(NamedTuple):
    """A row's lexical counts: tokens, and per order n (index 0 is n = 1) all and
    distinct n-grams."""

    tokens: int
    totals: list[int]
    distinct: list[int]


class _Group:
    """Everything one row of the report accumulates while a file streams by.

    ``lexical=False``: no tokens or n-grams are counted here (the caller measures them
    elsewhere and hands them to ``result``); the compression and the samples are."""

    def __init__(self, bleu_sample: int, embed_sample: int | None, lexical: bool = True):
        self.n = 0
        self.tokens = 0
        self.ngrams = DistinctCounter() if lexical else None
        self.gzip = GzipRatio()
        self.bleu: Reservoir[str] = Reservoir(bleu_sample)  # texts, tokenized at the end
        self.embed: Reservoir[tuple[int, str]] | None = (
            Reservoir(embed_sample) if embed_sample is not None else None
        )

    def add(self, item: _Item) -> None:
        self.n += 1
        if self.ngrams is not None:
            self.tokens += len(item.tokens)
            self.ngrams.add(item.ids)
        self.gzip.add(item.text)
        self.bleu.add(item.text, item.priority)
        if self.embed is not None:
            self.embed.add((item.index, item.text), item.priority)

    def copy(self) -> _Group:
        other = _Group.__new__(_Group)
        other.n, other.tokens = self.n, self.tokens
        other.ngrams = self.ngrams.copy() if self.ngrams is not None else None
        other.gzip = self.gzip.copy()
        other.bleu = self.bleu.copy()
        other.embed = self.embed.copy() if self.embed is not None else None
        return other

    def result(
        self, vectors: dict[int, np.ndarray] | None, lexical: Lexical | None = None
    ) -> dict[str, Any]:
        """The row; ``lexical``: the counts measured elsewhere (for ``lexical=False``)."""
        if lexical is None:
            lexical = Lexical(self.tokens, self.ngrams.totals, self.ngrams.distinct_counts())
        totals, counts = lexical.totals, lexical.distinct
        bleu_texts = [tokenize(t) for t in self.bleu.items()]
        row: dict[str, Any] = {
            "n": self.n,
            "tokens": lexical.tokens,
            **{
                f"distinct_{n}": counts[n - 1] / totals[n - 1] if totals[n - 1] else None
                for n in DISTINCT_ORDERS
            },
            "self_bleu": self_bleu(bleu_texts),
            "self_bleu_sample": len(bleu_texts),
            "compression_ratio": self.gzip.ratio(),
        }
        if self.embed is not None and vectors is not None:
            sample = [i for i, _ in self.embed.items()]  # positions in the file
            emb = np.stack([vectors[i] for i in sample]) if sample else np.zeros((0, 1))
            row["cosine_distance"] = mean_pairwise_cosine_distance(emb)
            row["vendi"] = vendi_score(emb)
            row["embed_sample"] = len(sample)
        return row


field_text = sample_text  # the part of each sample measured


def _embed_all(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), EMBED_BATCH):
        part = np.asarray(embedder.embed(texts[start : start + EMBED_BATCH]))
        if part.ndim != 2 or part.shape[0] != len(texts[start : start + EMBED_BATCH]):
            raise ValueError(f"embedder {embedder.name} returned shape {part.shape}")
        parts.append(part)
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)


class _FileRows:
    """The rows of one file: the whole file and, once some sample names its generator,
    one group per generator (see ``file_report``), fed the file's items in order."""

    def __init__(self, make: Callable[[], _Group]):
        self.make = make
        self.whole = make()
        self.groups: dict[str, _Group] = {}

    def add(self, item: _Item, generator: str) -> None:
        if generator and not self.groups and item.index > 0:
            self.groups[""] = self.whole.copy()  # the untagged samples so far: the file so far
        self.whole.add(item)
        if generator or self.groups:
            if generator not in self.groups:
                self.groups[generator] = self.make()
            self.groups[generator].add(item)

    def embed_texts(self) -> dict[int, str]:
        """The texts of every group's embedding sample, by position in the file."""
        groups = (self.whole, *self.groups.values())
        return {i: t for g in groups if g.embed for i, t in g.embed.items()}

    def rows(
        self,
        path: str | Path,
        vectors: dict[int, np.ndarray] | None,
        lexical: Callable[[str | None], Lexical] | None = None,
    ) -> list[dict[str, Any]]:
        """The whole file's row, then one per generator (``(no generator)`` last).
        ``lexical(generator)`` (None: the whole file): counts measured elsewhere."""

        def counts(gen: str | None) -> Lexical | None:
            return lexical(gen) if lexical is not None else None

        whole = self.whole.result(vectors, counts(None))
        rows = [{"file": str(path), "generator": None, "label": str(path), **whole}]
        for gen in sorted(self.groups, key=lambda g: (g == "", g)):
            label = f"{path} [{gen or NO_GENERATOR}]"
            row = self.groups[gen].result(vectors, counts(gen))
            rows.append({"file": str(path), "generator": gen, "label": label, **row})
        return rows


def file_report(
    path: str | Path,
    *,
    field: str = "text",
    bleu_sample: int = DEFAULT_BLEU_SAMPLE,
    embed_sample: int = DEFAULT_EMBED_SAMPLE,
    seed: int = DEFAULT_SEED,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows for one file: the whole file first, then one per generator model.

    Generator rows appear only when some sample names its generator (gra output's
    ``provenance.generator``); samples without one then form a ``(no generator)``
    row. Until the first named generator the untagged samples are the file so far,
    so that row starts as a copy of the file's accumulators.
    """
    esample = embed_sample if embedder is not None else None
    rows = _FileRows(lambda: _Group(bleu_sample, esample))
    vocab = Vocabulary()
    rng = random.Random(seed)
    for index, sample in enumerate(read_samples(path)):
        text = field_text(sample, field)
        tokens = tokenize(text)
        rows.add(_Item(index, rng.random(), text, tokens, vocab.ids(tokens)), sample.generator)
    vectors = None
    if embedder is not None:
        wanted = rows.embed_texts()
        order = sorted(wanted)
        if progress:
            progress(f"embedding {len(order)} texts of {path} with {embedder.name}")
        emb = _embed_all(embedder, [wanted[i] for i in order])
        vectors = dict(zip(order, emb, strict=True))
    return rows.rows(path, vectors)


def report(
    paths: Sequence[str | Path],
    *,
    field: str = "text",
    bleu_sample: int = DEFAULT_BLEU_SAMPLE,
    embed_sample: int = DEFAULT_EMBED_SAMPLE,
    seed: int = DEFAULT_SEED,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The diversity report of ``paths``: settings, metric definitions and one row per
    file and per generator model (see ``file_report``). ``bleu_sample`` and
    ``embed_sample`` are sample sizes (0: every sample); without an ``embedder``
    the embedding metrics are left out."""
    if field not in FIELDS:
        raise ValueError(f"field must be one of {', '.join(FIELDS)}, got {field!r}")
    rows: list[dict[str, Any]] = []
    for path in paths:
        rows.extend(
            file_report(
                path,
                field=field,
                bleu_sample=bleu_sample,
                embed_sample=embed_sample,
                seed=seed,
                embedder=embedder,
                progress=progress,
            )
        )
    return _report(rows, field, seed, bleu_sample, embed_sample, embedder)


def _report(
    rows: list[dict[str, Any]],
    field: str,
    seed: int,
    bleu_sample: int,
    embed_sample: int,
    embedder: Embedder | None,
) -> dict[str, Any]:
    """The report of ``rows``: its settings, the metric definitions and the rows."""
    settings = {
        "field": field,
        "seed": seed,
        "bleu_sample": bleu_sample,
        "embed_sample": embed_sample if embedder is not None else None,
        "embedder": embedder.name if embedder is not None else None,
        "embedding_dim": embedder.dim if embedder is not None else None,
    }
    return {"settings": settings, "methods": METHODS, "results": rows}
