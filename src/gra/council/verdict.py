"""The calibrated verdict: one probability that a pair is good, from signals weighed by how
well each one predicted the labels it was fitted on.

    p(good) = sigmoid(bias + sum(weight[s] * x[s] for each signal s))
    accept  = p(good) >= aggregate.accept_p

Signals (``x``), each computed for a pair that passed the cheap checks:

- ``yes:MODEL`` -- logit of MODEL's p(Yes) to "is the response a correct, complete and
  appropriate answer?" (gra.council.steps.judge_yes), clipped to +-4.6 (p 0.01-0.99);
- ``loss:MODEL`` -- the mean token loss of the response after its instruction under MODEL
  (gra.council.loss_signal; lower: the model finds the answer likely);
- ``rubric`` -- the reviewers' rubric mean (1-10) minus 5; asked only when its weight is
  not 0, since it costs a few hundred generated tokens per reviewer;
- ``words`` -- log10(1 + words in the response);
- ``code`` -- 1 when the response has a fenced code block;
- ``question`` -- 1 when the instruction is a question (ends with "?").

The weights are a logistic regression fitted by ``gra calibrate`` on labeled pairs (good /
bad, read by a person), so a signal that ranks pairs at chance gets a weight near 0 however
confident it sounds. ``accept_p`` is chosen there too: the lowest threshold whose accepted
pairs reach the target precision on the labeled pairs. gra's defaults are fitted on
benchmarks/data (docs/review.md, "The calibrated verdict").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from gra.checks.base import code_blocks

LOGIT_CLIP = 4.6  # |logit(p)| for p = 0.01 / 0.99


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return max(-LOGIT_CLIP, min(LOGIT_CLIP, math.log(p / (1 - p))))


def signals(
    instruction: str,
    response: str,
    p_yes: dict[str, float],
    rubric_mean: float | None = None,
    losses: dict[str, float] | None = None,
) -> dict[str, float]:
    """The signal values of one pair (names as in the module doc)."""
    out = {f"yes:{m}": round(logit(p), 6) for m, p in p_yes.items()}
    out |= {f"loss:{m}": round(v, 6) for m, v in (losses or {}).items()}
    if rubric_mean is not None:
        out["rubric"] = round(rubric_mean - 5.0, 6)
    out["words"] = round(math.log10(1 + len(response.split())), 6)
    out["code"] = 1.0 if code_blocks(response) else 0.0
    out["question"] = 1.0 if instruction.rstrip().endswith("?") else 0.0
    return out


def p_good(x: dict[str, float], weights: dict[str, float], bias: float) -> float:
    """sigmoid(bias + w . x); a weighted signal the pair lacks counts as 0."""
    z = bias + sum(w * x.get(name, 0.0) for name, w in weights.items())
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def fit(
    rows: Sequence[dict[str, float]],
    labels: Sequence[int],
    names: Sequence[str],
    l2: float = 1.0,
    iterations: int = 50,
) -> tuple[dict[str, float], float]:
    """L2-regularised logistic regression by Newton's method (the bias is not penalised).
    ``labels`` are 1 for good, 0 for bad. Returns (weights by name, bias)."""
    if not rows or len(set(labels)) < 2:
        raise ValueError("need both good and bad labeled pairs to calibrate")
    x = np.array([[1.0] + [r.get(n, 0.0) for n in names] for r in rows])
    y = np.array(labels, dtype=float)
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -40, 40)))
        grad = x.T @ (p - y) + penalty @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + penalty + np.eye(len(w)) * 1e-9
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return {n: round(float(v), 4) for n, v in zip(names, w[1:], strict=True)}, round(float(w[0]), 4)


def threshold_for(scores: Sequence[float], labels: Sequence[int], precision: float) -> float:
    """The lowest score threshold whose accepted pairs (score >= it) reach ``precision``
    on these labels; when none does, the threshold of the best precision (ties: more
    accepted). Thresholds are midpoints between neighbouring scores, rounded to 4 places."""
    pairs = sorted(zip(scores, labels, strict=True), reverse=True)
    best: tuple[float, int, float] | None = None  # (precision, accepted, threshold)
    chosen = None
    good = 0
    for i, (s, lab) in enumerate(pairs):
        good += lab
        if i + 1 < len(pairs) and pairs[i + 1][0] == s:
            continue  # a threshold cannot split tied scores
        nxt = pairs[i + 1][0] if i + 1 < len(pairs) else s - 1e-3
        t = round(max((s + nxt) / 2, 0.0), 4)
        prec = good / (i + 1)
        if prec >= precision:
            chosen = t
        if best is None or (prec, i + 1) > best[:2]:
            best = (prec, i + 1, t)
    if chosen is not None:
        return chosen
    return best[2] if best else 0.5


def auroc(pos: Iterable[float], neg: Iterable[float]) -> float:
    """P(a good pair scores above a bad one), ties counted half (Mann-Whitney, from ranks)."""
    pos, neg = list(pos), list(neg)
    if not pos or not neg:
        return float("nan")
    allv = sorted((v, i) for i, v in enumerate(pos + neg))
    ranks = [0.0] * len(allv)
    k = 0
    while k < len(allv):
        m = k
        while m + 1 < len(allv) and allv[m + 1][0] == allv[k][0]:
            m += 1
        for t in range(k, m + 1):
            ranks[allv[t][1]] = (k + m) / 2 + 1
        k = m + 1
    r_pos = sum(ranks[: len(pos)])
    return (r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
