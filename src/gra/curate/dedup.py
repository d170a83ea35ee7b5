"""Deduplicate a dataset in one streaming pass: exact, MinHash-LSH, embedding cosine.

Samples are read in file order and the first of each group of duplicates is kept:

1. **exact**: equal normalised text (casefolded, punctuation at word edges and
   extra whitespace removed; see ``gra.curate.minhash.normalize``);
2. **minhash**: word-shingle Jaccard ≥ ``jaccard``, found through MinHash LSH and
   re-checked with the true Jaccard of the shingle sets, so every reported pair
   really is that similar (LSH can only miss, never over-report);
3. **cosine** (optional): embedding cosine similarity ≥ ``cosine`` against every
   sample kept so far (the paper's post-processing uses 0.9).

Memory grows linearly with the samples kept (a sorted shingle array and a MinHash
band key per sample; an embedding row each with ``cosine``), never with n².
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from gra.curate.minhash import NearDupIndex
from gra.io.datasets import TEXT_FIELDS, Sample, sample_text

__all__ = ["FIELDS", "DedupOptions", "DedupStats", "Removal", "dedup_samples"]

FIELDS = TEXT_FIELDS


@dataclass(frozen=True)
class Removal:
    """``dropped`` duplicates ``kept`` (an earlier sample) by ``method``."""

    dropped: str
    kept: str
    method: str  # exact | minhash | cosine
    similarity: float


@dataclass
class DedupOptions:
    field: str = "instruction"
    jaccard: float = 0.7  # 0 turns the MinHash stage off
    ngram: int = 3
    num_perm: int = 128
    cosine: float = 0.0  # 0 = off; e.g. 0.9
    batch: int = 64  # samples embedded at once for the cosine stage


@dataclass
class DedupStats:
    read: int = 0
    kept: int = 0
    removed: dict[str, int] = field(default_factory=lambda: {"exact": 0, "minhash": 0, "cosine": 0})


def dedup_samples(
    samples: Iterable[Sample],
    opts: DedupOptions,
    removals: list[Removal],
    stats: DedupStats,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> Iterator[Sample]:
    """Yield the samples to keep, in order; append each removal to ``removals``.

    ``embed`` (texts -> L2-normalised rows) is needed when ``opts.cosine > 0``.
    """
    if opts.cosine > 0 and embed is None:
        raise ValueError("the cosine stage needs an embedder")
    survivors = _lexical(samples, opts, removals, stats)
    if opts.cosine > 0:
        assert embed is not None
        survivors = _semantic(survivors, opts, removals, stats, embed)
    for s in survivors:
        stats.kept += 1
        yield s


def _lexical(
    samples: Iterable[Sample], opts: DedupOptions, removals: list[Removal], stats: DedupStats
) -> Iterator[Sample]:
    index = NearDupIndex(
        threshold=opts.jaccard if opts.jaccard > 0 else 1.0,
        num_perm=opts.num_perm if opts.jaccard > 0 else 1,
        ngram=opts.ngram,
    )
    for s in samples:
        stats.read += 1
        text = sample_text(s, opts.field)
        if opts.jaccard > 0:
            found = index.match_or_add(s.id, text)
        else:
            exact = index.exact_match(text)
            found = None if exact is None else (*exact, "exact")
            if found is None:
                index.add_exact(s.id, text)
        if found is None:
            yield s
            continue
        kept, similarity, method = found
        stats.removed[method] += 1
        removals.append(Removal(s.id, kept, method, round(similarity, 4)))


def _semantic(
    samples: Iterable[Sample],
    opts: DedupOptions,
    removals: list[Removal],
    stats: DedupStats,
    embed: Callable[[list[str]], np.ndarray],
) -> Iterator[Sample]:
    kept = _Rows()
    batch: list[Sample] = []

    def flush() -> Iterator[Sample]:
        vecs = np.asarray(embed([sample_text(s, opts.field) for s in batch]), dtype=np.float32)
        # one product against everything kept before this batch, then the batch itself
        before = kept.best_many(vecs)
        within = vecs @ vecs.T
        chosen: list[int] = []
        for i, s in enumerate(batch):
            best = before[i]
            for j in chosen:
                if best is None or within[i, j] > best[1]:
                    best = (batch[j].id, float(within[i, j]))
            if best is not None and best[1] >= opts.cosine:
                stats.removed["cosine"] += 1
                removals.append(Removal(s.id, best[0], "cosine", round(best[1], 4)))
                continue
            chosen.append(i)
        for i in chosen:
            kept.add(batch[i].id, vecs[i])
            yield batch[i]
        batch.clear()

    for s in samples:
        batch.append(s)
        if len(batch) >= opts.batch:
            yield from flush()
    if batch:
        yield from flush()


class _Rows:
    """Embeddings of kept samples in a growing array (doubling, so appends are cheap)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.mat: np.ndarray | None = None

    def add(self, key: str, v: np.ndarray) -> None:
        n = len(self.ids)
        if self.mat is None:
            self.mat = np.empty((1024, v.shape[0]), dtype=np.float32)
        elif n == self.mat.shape[0]:
            self.mat = np.concatenate([self.mat, np.empty_like(self.mat)])
        self.mat[n] = v
        self.ids.append(key)

    def best_many(self, vecs: np.ndarray) -> list[tuple[str, float] | None]:
        """For each row, the kept sample most similar to it (earliest on ties) and the
        cosine; None while nothing is kept."""
        if not self.ids or self.mat is None:
            return [None] * len(vecs)
        sims = vecs @ self.mat[: len(self.ids)].T
        idx = np.argmax(sims, axis=1)
        return [(self.ids[k], float(sims[i, k])) for i, k in enumerate(idx)]
