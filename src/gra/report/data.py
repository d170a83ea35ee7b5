"""What ``gra report`` shows, gathered from a run directory as plain JSON-ready data.

Everything is read from the run's store (``run.sqlite``), ``seeds.jsonl`` and
``config.yaml``; ``summary.json`` and ``data.jsonl`` are not needed, so a run
stopped half-way (candidates still ``running``, killed before it wrote its
files) is reported as it stands. Every pass is linear in the number of
candidates; only the reviewer correlations loop over pairs of reviewer *models*.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gra.core.records import DIMENSIONS, Candidate, Review, Seed
from gra.core.store import Store
from gra.core.version import __version__
from gra.curate.diversity import (
    DEFAULT_BLEU_SAMPLE,
    METHODS,
    Embedder,
    compression_ratio,
    distinct_n,
    mean_pairwise_cosine_distance,
    self_bleu,
    tokenize,
    vendi_score,
)
from gra.io.datasets import Sample, sample_text
from gra.synthesis.preference import preference_summary
from gra.synthesis.routing import routing_table
from gra.synthesis.writer import summarize

SCORE_EDGES = [1.0 + 0.5 * i for i in range(19)]  # 18 bins of 0.5 over 1..10
STD_EDGES = [0.25 * i for i in range(19)]  # 18 bins of 0.25 over 0..4.5 (the largest std of 1..10)
DEFAULT_MAP_POINTS = 2000
RAW_LIMIT = 4000  # characters of an unreadable reply kept for the page
ALL_REVIEWERS = "(all reviewers)"

# verdicts: the state and who decided it, as the sample browser filters them
VERDICTS = (
    "accepted (council)",
    "accepted (adjudicator)",
    "rejected (cheap check)",
    "rejected (council)",
    "rejected (adjudicator)",
    "duplicate (before review)",
    "duplicate (after review)",
    "surplus",
    "failed",
    "unfinished",
    "cancelled at the target",
)


def _f(x: float | None, digits: int = 4) -> float | None:
    """A finite float rounded for the page, or None."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def overall(r: Review) -> float | None:
    """The mean of a readable review's scores (every dimension it has)."""
    if not r.ok or not r.scores:
        return None
    try:
        return r.overall
    except KeyError:  # a dimension missing: the mean of those present
        vals = [float(v) for v in r.scores.values()]
        return sum(vals) / len(vals)


def verdict(c: Candidate) -> str:
    if c.state == "running":
        return "unfinished"
    if c.state == "cancelled":
        return "cancelled at the target"
    if c.state in ("accepted", "surplus"):
        if c.state == "surplus":
            return "surplus"
        return "accepted (adjudicator)" if c.adjudication else "accepted (council)"
    if c.state == "rejected":
        if cheap_check_name(c) is not None:
            return "rejected (cheap check)"
        return "rejected (adjudicator)" if c.adjudication else "rejected (council)"
    if c.state == "duplicate":
        return "duplicate (after review)" if c.aggregate else "duplicate (before review)"
    if c.state == "failed":
        return "failed"
    return c.state or "unfinished"


def cheap_check_name(c: Candidate) -> str | None:
    if c.state != "rejected" or c.outcome is None or c.outcome.stage != "checks":
        return None
    return c.outcome.code


# ---------------------------------------------------------------- funnel


STAGES = (
    ("candidates", "started, unfinished ones included (not those cancelled at the target)"),
    ("generated", "an instruction and a response came back"),
    ("passed cheap checks", "before any reviewer token"),
    ("reviewed", "not a duplicate before review; the council's scores aggregated"),
    ("kept by the council", "accepted by the reviewers, or kept by the adjudicator"),
    ("after dedup", "not a near-duplicate of a seed or an accepted sample"),
    ("written", "in data.jsonl (surplus past the target is not)"),
)


def _kept(c: Candidate) -> bool:
    if c.adjudication is not None:
        return c.adjudication.keep
    return c.aggregate is not None and c.aggregate.decision == "accept"


def fate(c: Candidate) -> tuple[int, str]:
    """The last funnel stage (an index into STAGES) a candidate reached, and why it went
    no further ("" for a written one)."""
    if c.state == "accepted":
        return 6, ""
    if c.state == "surplus":
        return 5, "surplus (accepted after the target was met)"
    if c.state == "duplicate":
        if c.aggregate is not None:
            return 4, "duplicate after review"
        return 2, "duplicate before review"
    if c.state == "rejected":
        check = cheap_check_name(c)
        if check is not None:
            return 1, f"cheap check: {check}"
        if c.adjudication is not None:
            return 3, "dropped by the adjudicator"
        return 3, "rejected by the council"
    if c.state == "failed":
        if c.aggregate is not None:
            if _kept(c):
                return 5, "model call failed (tagging)"
            return 3, "model call failed (adjudication)"
        if "response" in c.calls:
            return 2, "model call failed (review)"
        return 0, "generation failed"
    return 0, "unfinished (running, or stopped before it ended)"


def funnel(cands: Sequence[Candidate], summary: dict[str, Any]) -> dict[str, Any]:
    """How many candidates reached each stage, and where the others stopped."""
    reached = [0] * len(STAGES)
    lost: Counter = Counter()
    for c in cands:
        if c.state == "cancelled":
            continue  # not needed once the target was reached: outside the shares
        stage, why = fate(c)
        reached[stage] += 1
        if why:
            lost[(stage, why)] += 1
    at_least = [sum(reached[i:]) for i in range(len(STAGES))]
    counts = summary["counts"]
    return {
        "stages": [
            {"name": name, "note": note, "n": n}
            for (name, note), n in zip(STAGES, at_least, strict=True)
        ],
        "losses": [
            {"stage": STAGES[stage][0], "name": why, "n": n}
            for (stage, why), n in sorted(lost.items(), key=lambda kv: (kv[0][0], -kv[1]))
        ],
        "decisions": {
            "accept": counts["accepted_by_council"],
            "reject": counts["rejected_by_council"],
            "adjudicate": sum(
                1 for c in cands if c.aggregate and c.aggregate.decision == "adjudicate"
            ),
            "adjudicator_kept": counts["adjudicator_kept"],
            "adjudicator_dropped": counts["adjudicator_dropped"],
        },
        "verdicts": dict(Counter(verdict(c) for c in cands)),
    }


# ---------------------------------------------------------------- scores and agreement


def _bin(x: float, edges: Sequence[float]) -> int:
    i = int((x - edges[0]) / (edges[1] - edges[0]))
    return min(max(i, 0), len(edges) - 2)


def _hist(values: Iterable[float], edges: Sequence[float]) -> list[int]:
    counts = [0] * (len(edges) - 1)
    for x in values:
        counts[_bin(x, edges)] += 1
    return counts


def scores(cands: Sequence[Candidate]) -> dict[str, Any]:
    """Histograms of each dimension and the overall score, for all reviewers and per model."""
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    unreadable: Counter = Counter()
    reviews: Counter = Counter()
    for c in cands:
        for r in c.reviews:
            reviews[r.reviewer] += 1
            o = overall(r)
            if o is None:
                unreadable[r.reviewer] += 1
                continue
            for key in (ALL_REVIEWERS, r.reviewer):
                per[key]["overall"].append(o)
                for d in DIMENSIONS:
                    if d in r.scores:
                        per[key][d].append(float(r.scores[d]))
    models = sorted(reviews)
    out = {}
    for key in [ALL_REVIEWERS, *models]:
        dims = {}
        for d in ("overall", *DIMENSIONS):
            vals = per[key][d] if key in per else []
            dims[d] = {
                "counts": _hist(vals, SCORE_EDGES),
                "n": len(vals),
                "mean": _f(sum(vals) / len(vals), 3) if vals else None,
            }
        n_reviews = sum(reviews.values()) if key == ALL_REVIEWERS else reviews[key]
        n_bad = sum(unreadable.values()) if key == ALL_REVIEWERS else unreadable[key]
        out[key] = {"reviews": n_reviews, "unreadable": n_bad, "dimensions": dims}
    return {
        "edges": SCORE_EDGES,
        "dimensions": ["overall", *DIMENSIONS],
        "reviewers": [ALL_REVIEWERS, *models],
        "by_reviewer": out,
    }


class _Pair:
    """Running sums for Pearson's r and the mean absolute difference of (x, y) pairs."""

    def __init__(self) -> None:
        self.n = 0
        self.sx = self.sy = self.sxx = self.syy = self.sxy = self.sad = 0.0

    def add(self, x: float, y: float) -> None:
        self.n += 1
        self.sx += x
        self.sy += y
        self.sxx += x * x
        self.syy += y * y
        self.sxy += x * y
        self.sad += abs(x - y)

    def pearson(self) -> float | None:
        n = self.n
        if n < 3:
            return None
        vx = n * self.sxx - self.sx * self.sx
        vy = n * self.syy - self.sy * self.sy
        if vx <= 1e-12 * max(1.0, n * self.sxx) or vy <= 1e-12 * max(1.0, n * self.syy):
            return None  # one side is constant: no correlation to speak of
        return (n * self.sxy - self.sx * self.sy) / math.sqrt(vx * vy)


def agreement(cands: Sequence[Candidate], max_std: float | None) -> dict[str, Any]:
    """Spread of the reviewers' overall scores per candidate, and each pair of reviewer
    models compared over the candidates both reviewed (a model that reviewed one
    candidate twice is compared with itself: its first review against its second)."""
    stds: list[float] = []
    spreads: list[float] = []
    pairs: dict[tuple[str, str], _Pair] = defaultdict(_Pair)
    for c in cands:
        by_model: dict[str, list[float]] = defaultdict(list)
        for r in c.reviews:
            o = overall(r)
            if o is not None:
                by_model[r.reviewer].append(o)
        vals = [x for xs in by_model.values() for x in xs]
        if len(vals) >= 2:
            mean = sum(vals) / len(vals)
            stds.append(math.sqrt(sum((x - mean) ** 2 for x in vals) / len(vals)))
            spreads.append(max(vals) - min(vals))
        names = sorted(by_model)
        for i, a in enumerate(names):
            if len(by_model[a]) >= 2:
                pairs[(a, a)].add(by_model[a][0], by_model[a][1])
            for b in names[i + 1 :]:
                xa, xb = by_model[a], by_model[b]
                pairs[(a, b)].add(sum(xa) / len(xa), sum(xb) / len(xb))
    rows = [
        {
            "a": a,
            "b": b,
            "n": p.n,
            "pearson": _f(p.pearson(), 3),
            "mean_abs_diff": _f(p.sad / p.n, 3) if p.n else None,
        }
        for (a, b), p in sorted(pairs.items())
    ]
    above = sum(1 for s in stds if max_std is not None and s > max_std)
    return {
        "edges": STD_EDGES,
        "std_counts": _hist(stds, STD_EDGES),
        "spread_counts": _hist(spreads, [2 * e for e in STD_EDGES]),
        "spread_edges": [2 * e for e in STD_EDGES],
        "n": len(stds),
        "mean_std": _f(sum(stds) / len(stds), 3) if stds else None,
        "above_max_std": above,
        "max_std": max_std,
        "pairs": rows,
    }


# ---------------------------------------------------------------- acceptance


def acceptance(cands: Sequence[Candidate]) -> dict[str, Any]:
    """Finished candidates and accepted ones per generator model x domain."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in cands:
        if c.state in ("running", "cancelled") or not c.generator:
            continue
        cell = cells[(c.generator, c.domain)]
        cell[0] += 1
        cell[1] += c.state == "accepted"
    gens = sorted({g for g, _ in cells})
    domains = sorted({d for _, d in cells})
    return {
        "generators": gens,
        "domains": domains,
        "cells": [
            {"generator": g, "domain": d, "candidates": n, "accepted": a}
            for (g, d), (n, a) in sorted(cells.items())
        ],
    }


# ---------------------------------------------------------------- diversity and the map


def _text(instruction: str, input_: str, response: str) -> str:
    """The text measured: instruction, input and response, as ``gra diversity`` measures."""
    return sample_text(Sample("", instruction, response, input=input_), "text")


def _sample(n: int, k: int, rng: random.Random) -> list[int]:
    return list(range(n)) if n <= k else sorted(rng.sample(range(n), k))


def _lexical(texts: Sequence[str], bleu_sample: int, rng: random.Random) -> dict[str, Any]:
    distinct = distinct_n(texts)
    picked = _sample(len(texts), bleu_sample, rng)
    return {
        "n": len(texts),
        "words_per_sample": _f(sum(len(tokenize(t)) for t in texts) / len(texts), 1)
        if texts
        else None,
        "distinct_1": _f(distinct[1]),
        "distinct_2": _f(distinct[2]),
        "distinct_3": _f(distinct[3]),
        "self_bleu": _f(self_bleu([tokenize(texts[i]) for i in picked])),
        "self_bleu_sample": len(picked),
        "compression_ratio": _f(compression_ratio(texts)) if texts else None,
    }


def _embedded(vectors: np.ndarray | None) -> dict[str, Any]:
    if vectors is None:
        return {}
    return {
        "cosine_distance": _f(mean_pairwise_cosine_distance(vectors)),
        "vendi": _f(vendi_score(vectors), 2),
        "embed_sample": int(vectors.shape[0]),
    }


def map_sizes(n_seeds: int, n_accepted: int, max_points: int) -> tuple[int, int]:
    """How many seeds and accepted samples the map shows: everything when it fits in
    ``max_points``, else an equal share each (a smaller group leaves its rest to the other)."""
    half = max_points // 2
    ks = min(n_seeds, half if n_accepted > half else max_points - n_accepted)
    return ks, min(n_accepted, max_points - ks)


def pca2(x: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """The first two principal components of the rows of ``x`` and the share of the
    variance each explains (zeros where the rows span fewer dimensions)."""
    x = np.asarray(x, dtype=np.float64)
    xc = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(2, vt.shape[0])
    coords = np.zeros((x.shape[0], 2))
    coords[:, :k] = xc @ vt[:k].T
    var = s * s
    total = float(var.sum())
    explained = [float(var[i] / total) if total > 0 and i < len(var) else 0.0 for i in range(2)]
    return coords, explained


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread for the small matrix work (SVD, eigenvalues): OpenBLAS's threads
    spin-wait for each other, so a busy core made a 100 x 384 SVD take seconds."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _embed(
    embedder: Embedder | None, texts: list[str], note: str
) -> tuple[np.ndarray | None, str, str]:
    """The texts' vectors (or None), the map's status and a line saying why there is none."""
    if embedder is None:
        return None, "skipped", note
    if not texts:
        return None, "empty", "no seeds and no accepted samples to embed"
    try:
        vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"embedder returned shape {vectors.shape} for {len(texts)} texts")
    except Exception as e:  # noqa: BLE001 - the page says what went wrong instead
        return None, "unavailable", f"embedding failed: {type(e).__name__}: {e}"
    return vectors, "ok", ""


def diversity_and_map(
    seeds: Sequence[Seed],
    accepted: Sequence[tuple[int, Candidate]],
    *,
    embedder: Embedder | None,
    embed_note: str,
    max_points: int = DEFAULT_MAP_POINTS,
    bleu_sample: int = DEFAULT_BLEU_SAMPLE,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Diversity rows (seeds, accepted, accepted per generator) and the 2-D map.

    ``accepted`` pairs each accepted candidate with its index in the page's list.
    The embedded sample is the map's: up to ``max_points`` texts in all; the
    cosine distance and Vendi score of each row are computed on its part of it.
    """
    rng = random.Random(seed)
    seed_texts = [_text(s.instruction, s.input, s.response) for s in seeds]
    acc_texts = [_text(c.instruction, c.input, c.response) for _, c in accepted]
    ks, ka = map_sizes(len(seed_texts), len(acc_texts), max_points)
    seed_pick, acc_pick = _sample(len(seed_texts), ks, rng), _sample(len(acc_texts), ka, rng)
    if embedder is not None and progress is not None and seed_pick + acc_pick:
        progress(f"embedding {len(seed_pick) + len(acc_pick)} texts with {embedder.name}")
    vectors, status, message = _embed(
        embedder, [seed_texts[i] for i in seed_pick] + [acc_texts[i] for i in acc_pick], embed_note
    )
    seed_vecs = vectors[: len(seed_pick)] if vectors is not None else None
    acc_vecs = vectors[len(seed_pick) :] if vectors is not None else None
    embedder_name = getattr(embedder, "name", None) if vectors is not None else None

    with _one_blas_thread():
        rows = [
            {"label": "seeds", **_lexical(seed_texts, bleu_sample, rng), **_embedded(seed_vecs)},
            {"label": "accepted", **_lexical(acc_texts, bleu_sample, rng), **_embedded(acc_vecs)},
        ]
        by_gen: dict[str, list[int]] = defaultdict(list)
        for j, (_, c) in enumerate(accepted):
            by_gen[c.generator].append(j)
        pos = {j: p for p, j in enumerate(acc_pick)}  # accepted index -> row of acc_vecs
        for gen in sorted(by_gen) if len(by_gen) > 1 else []:
            idx = by_gen[gen]
            vecs = None
            if acc_vecs is not None:
                vecs = acc_vecs[[pos[j] for j in idx if j in pos]]
            rows.append(
                {
                    "label": f"accepted [{gen}]",
                    **_lexical([acc_texts[j] for j in idx], bleu_sample, rng),
                    **_embedded(vecs),
                }
            )
        points: dict[str, Any] = {"x": [], "y": [], "group": [], "ref": []}
        explained = [0.0, 0.0]
        if vectors is not None and len(vectors) >= 2:
            coords, explained = pca2(vectors)
            points = {
                "x": [_f(v, 4) for v in coords[:, 0]],
                "y": [_f(v, 4) for v in coords[:, 1]],
                "group": [0] * len(seed_pick) + [1] * len(acc_pick),
                # seeds: index into the page's seeds; accepted: into its candidates
                "ref": seed_pick + [accepted[j][0] for j in acc_pick],
            }
        elif vectors is not None:
            status, message = "empty", "fewer than two texts to place on a map"

    diversity = {
        "rows": rows,
        "embedder": embedder_name,
        "methods": {
            k: METHODS[k]
            for k in ("distinct_n", "self_bleu", "compression_ratio", "cosine_distance", "vendi")
        },
    }
    the_map = {
        "status": status,
        "message": message,
        "embedder": embedder_name,
        "total": {"seeds": len(seed_texts), "accepted": len(acc_texts)},
        "shown": {"seeds": len(seed_pick), "accepted": len(acc_pick)},
        "max_points": max_points,
        "explained": [_f(e, 4) for e in explained],
        "points": points,
    }
    return diversity, the_map


# ---------------------------------------------------------------- the sample browser


def _clip(text: str, limit: int = RAW_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"


def browser_candidate(c: Candidate) -> dict[str, Any]:
    agg = c.aggregate
    adj = c.adjudication
    return {
        "id": c.id,
        "state": c.state,
        "verdict": verdict(c),
        "check": cheap_check_name(c),
        "domain": c.domain,
        "generator": c.generator,
        "instruction": c.instruction,
        "input": c.input,
        "response": c.response,
        "reason": c.reason,
        "mean": _f(agg.mean, 3) if agg else None,
        "std": _f(agg.std, 3) if agg else None,
        "aggregate": (
            {
                "decision": agg.decision,
                "reason": agg.reason,
                "n_valid": agg.n_valid,
                "n_failed": agg.n_failed,
                "p_good": agg.p_good,
                "signals": agg.signals,
            }
            if agg
            else None
        ),
        "reviews": [
            {
                "reviewer": r.reviewer,
                "ok": r.ok,
                "overall": _f(overall(r), 3),
                "scores": {d: _f(float(s), 3) for d, s in r.scores.items()},
                "critique": r.critique,
                "error": r.error,
                "raw": "" if r.ok else _clip(r.raw),
                # logprobs: expected scores (sum of s * p(s)); sampled: the digits written
                "method": getattr(r, "method", None),
            }
            for r in c.reviews
        ],
        "adjudication": (
            {
                "adjudicator": adj.adjudicator,
                "ok": adj.ok,
                "keep": adj.keep,
                "reason": adj.reason,
                "raw": "" if adj.ok else _clip(adj.raw),
                "p_keep": _f(getattr(adj, "p_keep", None), 3),
            }
            if adj
            else None
        ),
        "duplicate_of": c.duplicate_of,
        "keywords": c.keywords,
        "summary": c.summary,
        "seed_ids": c.seed_ids,
    }


def browser_seed(s: Seed) -> dict[str, Any]:
    return {
        "id": s.id,
        "domain": s.domain,
        "instruction": s.instruction,
        "input": s.input,
        "response": s.response,
        "keywords": s.keywords,
        "summary": s.summary,
    }


# ---------------------------------------------------------------- everything


def read_seeds(run_dir: Path) -> list[Seed]:
    import json

    path = run_dir / "seeds.jsonl"
    if not path.is_file():
        return []
    fields = set(Seed.__dataclass_fields__)
    out = []
    # split on newlines only: str.splitlines() also splits inside a text holding U+2028
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            d = json.loads(line)
            out.append(Seed.from_dict({k: v for k, v in d.items() if k in fields}))
    return out


def read_config(run_dir: Path) -> dict[str, Any]:
    import yaml

    path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def read_summary(run_dir: Path) -> dict[str, Any]:
    import json

    path = run_dir / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def gather(
    run_dir: Path,
    store: Store,
    *,
    embedder: Embedder | None,
    embed_note: str = "",
    max_points: int = DEFAULT_MAP_POINTS,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    cands = store.candidates()
    seeds = read_seeds(run_dir)
    config = read_config(run_dir)
    summary_file = read_summary(run_dir)
    summary = summarize(store, cands)
    agg_cfg = config.get("aggregate") or {}
    accepted = [(i, c) for i, c in enumerate(cands) if c.state == "accepted"]
    diversity, the_map = diversity_and_map(
        seeds,
        accepted,
        embedder=embedder,
        embed_note=embed_note,
        max_points=max_points,
        seed=seed,
        progress=progress,
    )
    wall = store.get_meta("wall_s")
    options = store.get_meta("options") or {}
    states = Counter(c.state for c in cands)
    return {
        "meta": {
            "run_dir": str(run_dir),
            "run_name": run_dir.resolve().name,
            "created": store.get_meta("created"),
            "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
            "gra_version": __version__,
            "status": summary_file.get("status") or ("unfinished" if states["running"] else None),
            "stop_reason": summary_file.get("stop_reason"),
            "sessions": store.get_meta("sessions"),
            "wall_time_s": wall,
            "target": options.get("target"),
            "max_candidates": options.get("max_candidates"),
            "has_data_file": (run_dir / "data.jsonl").is_file(),
            "states": dict(states),
            "thresholds": {
                k: agg_cfg.get(k)
                for k in ("accept_mean", "reject_mean", "max_std", "min_valid_reviews")
            },
        },
        "funnel": funnel(cands, summary),
        "scores": scores(cands),
        "agreement": agreement(cands, agg_cfg.get("max_std")),
        "acceptance": acceptance(cands),
        "routing": routing_table(cands),
        "preference": preference_summary(cands) if any(c.preference for c in cands) else None,
        "diversity": diversity,
        "map": the_map,
        "usage": {
            "by_role": summary["usage_by_role"],
            "by_model": summary["usage_by_model"],
            "tokens_total": summary["tokens_total"],
            "failed_calls": summary["failed_calls"],
            "reviews": summary["reviews"],
            "wall_time_s": wall,
        },
        "verdicts": list(VERDICTS),
        "candidates": [browser_candidate(c) for c in cands],
        "seeds": [browser_seed(s) for s in seeds],
    }
