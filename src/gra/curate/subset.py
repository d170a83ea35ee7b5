"""Choosing a subset: by score, then for diversity on embeddings.

- ``top``: the best-scored samples, by count or by fraction.
- ``deita_greedy``: DEITA's score-first filter: walk samples from the best score
  down and keep one only if its cosine similarity to every sample kept so far is
  at most ``tau`` (default 0.9), until the budget is met.
- ``facility_location``: greedy maximisation of F(S) = Σ_i max_{j∈S} sim(i, j) with
  sim = (1 + cos) / 2 in [0, 1], to a budget (Superfiltering.D's diversity step).
  Lazy greedy: F is submodular, so a gain computed earlier is an upper bound and
  most candidates are never re-evaluated. Memory O(n·d), never an n×n matrix.

Embeddings are rows of unit length (``gra.curate.embed``); all functions return indices
into them in selection order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["budget_size", "deita_greedy", "facility_location", "rank_by_score"]


def budget_size(n: int, top_n: int | None = None, top_percent: float | None = None) -> int:
    """How many of ``n`` to keep: ``top_n``, or ``ceil(n * top_percent / 100)``, or all."""
    if top_n is not None:
        return max(0, min(n, top_n))
    if top_percent is not None:
        return max(0, min(n, math.ceil(n * top_percent / 100)))
    return n


def rank_by_score(scores: Sequence[float | None], descending: bool = True) -> list[int]:
    """Indices of scored items, best first; ties keep input order; None is left out."""
    scored = [i for i, s in enumerate(scores) if s is not None and not math.isnan(s)]
    return sorted(scored, key=lambda i: -scores[i] if descending else scores[i])  # type: ignore[operator]


def deita_greedy(
    order: Sequence[int], emb: np.ndarray, tau: float = 0.9, budget: int | None = None
) -> list[int]:
    """Walk ``order`` (best first); keep an item if its cosine to every kept one is
    <= ``tau``; stop at ``budget`` kept (None: walk everything)."""
    limit = len(order) if budget is None else budget
    kept: list[int] = []
    mat = np.empty((min(limit, len(order)) or 1, emb.shape[1]), dtype=np.float32)
    for i in order:
        if len(kept) >= limit:
            break
        v = emb[i]
        if kept and float(np.max(mat[: len(kept)] @ v)) > tau:
            continue
        mat[len(kept)] = v
        kept.append(i)
    return kept


def facility_location(
    emb: np.ndarray, budget: int, candidates: Sequence[int] | None = None
) -> list[int]:
    """Greedy facility location: ``budget`` items (from ``candidates``, default all)
    that best cover every row of ``emb``; ties go to the lower index."""
    n = emb.shape[0]
    pool = list(range(n)) if candidates is None else list(candidates)
    budget = min(budget, len(pool))
    if budget <= 0:
        return []
    emb = emb.astype(np.float32, copy=False)
    # with nothing chosen, gain(j) = Σ_i sim(i, j) = (n + e_j · Σ_i e_i) / 2
    total = emb.sum(axis=0)
    first = (n + emb[pool] @ total) / 2
    heap = [(-float(g), j) for g, j in zip(first, pool, strict=True)]
    heapq.heapify(heap)
    cover = np.zeros(n, dtype=np.float32)  # max sim of each row to the chosen set
    chosen: list[int] = []
    stale = dict.fromkeys(pool, 0)  # len(chosen) when each gain was computed
    while heap and len(chosen) < budget:
        neg_gain, j = heapq.heappop(heap)
        if stale[j] == len(chosen):
            chosen.append(j)
            cover = np.maximum(cover, (1.0 + emb @ emb[j]) / 2)
            continue
        gain = float(np.maximum((1.0 + emb @ emb[j]) / 2 - cover, 0.0).sum())
        stale[j] = len(chosen)
        heapq.heappush(heap, (-gain, j))
    return chosen
