"""``gra select``: score samples with a small model, filter, rank, pick a diverse subset.

Scores (one method per run):

- ``ifd``: IFD = PPL(response | instruction) / PPL(response) from a small scoring
  model (``gra.ifd``), or the Cherry variant (ratio of mean token losses). High IFD
  means the instruction helps little to predict the response: a hard, informative
  sample, or a broken one. Samples with IFD >= ``max_ifd`` are dropped, and so are
  those the **mismatch guard** flags: the response is scored once more after
  another sample's instruction, and when its own instruction explains it no
  better (loss ratio own/other >= ``guard``) the pair is taken for a mismatch.
- ``judge``: a reviewer's score, read from the data or asked of configured
  reviewers (``gra.curate.judge``); samples below ``min_score`` are dropped.
- ``none``: every sample is eligible, in file order.

Before any scoring, samples the cheap checks reject (empty, refusal, repetition,
truncation, broken format constraints: ``gra.checks``) are dropped: IFD ranks
such broken responses near the top (benchmarks/ifd_selection.py).

Then the best ``top_n`` / ``top_percent`` of the eligible samples are kept, by
score alone or, with ``diversity``, by DEITA's greedy cosine filter or facility
location on embeddings (``gra.curate.subset``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gra.core.records import Outcome
from gra.curate.subset import budget_size, deita_greedy, facility_location, rank_by_score
from gra.io.datasets import Sample

__all__ = [
    "GUARD_DEFAULT",
    "Scored",
    "SelectOptions",
    "alien_partners",
    "check_drops",
    "choose",
    "score_ifd",
]

#: Own/other loss ratio at or above which a pair is taken for a mismatch: on the dev
#: set (benchmarks/ifd_selection.py, SmolLM2, plain format) it flags 26 of 34
#: mismatched pairs and 10 of 83 good ones.
GUARD_DEFAULT = 0.9


@dataclass
class SelectOptions:
    method: str = "ifd"  # ifd | judge | none
    variant: str = "ppl"  # ifd: ppl | loss
    max_ifd: float = 1.0  # ifd: drop IFD >= this
    guard: float = GUARD_DEFAULT  # ifd: drop own/other loss ratio >= this (0 = off)
    checks: bool = True  # drop what the cheap checks reject (gra.checks) before scoring
    min_score: float | None = None  # judge: drop scores below this
    top_n: int | None = None
    top_percent: float | None = None
    diversity: str = "none"  # none | deita | facility
    tau: float = 0.9  # deita: largest cosine to an already selected sample


@dataclass
class Scored:
    """A sample's score (higher is better), what it was made of, and why it is not
    eligible: ``drop`` for people (empty when it is eligible), ``outcome`` as data."""

    sample: Sample
    score: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    drop: str = ""
    outcome: Outcome | None = None

    @classmethod
    def dropped(cls, sample: Sample, outcome: Outcome, score=None, detail=None) -> Scored:
        return cls(sample, score, detail or {}, outcome.detail, outcome)


def alien_partners(prompts: Sequence[str], seed: int = 0) -> list[int | None]:
    """For each sample, another sample whose instruction it is paired with for the
    mismatch guard: the next one in a seeded shuffle whose instruction differs (a
    dataset may hold several responses to one instruction); None when none does."""
    n = len(prompts)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    partner: list[int | None] = [None] * n
    for k, i in enumerate(order):
        for step in range(1, n):
            j = order[(k + step) % n]
            if prompts[j] != prompts[i]:
                partner[i] = j
                break
    return partner


def check_drops(samples: Sequence[Sample], disabled: Sequence[str] = ()) -> list[Outcome | None]:
    """For each sample, the cheap check (``gra.checks``) that rejects it, or None."""
    from gra.checks import CheckSettings, run_checks

    settings = CheckSettings(disabled=frozenset(disabled))
    out = []
    for s in samples:
        failed = run_checks(s.instruction, s.input, s.response, settings=settings)
        if failed:
            why = f"cheap check: {failed[0].name} ({failed[0].detail})"
            out.append(Outcome("checks", failed[0].name, why))
        else:
            out.append(None)
    return out


def score_ifd(
    samples: Sequence[Sample],
    losses: Callable[[list[tuple[str | None, str]]], list[Any]],
    opts: SelectOptions,
    ifd: Callable[[Any, Any, str], float | None],
    progress: Callable[[int], None] | None = None,
    chunk: int = 32,
    dropped: Sequence[Outcome | None] | None = None,
) -> list[Scored]:
    """IFD of every sample (and the guard ratio), with drop reasons.

    ``losses`` maps (instruction or None, response) pairs to ResponseLoss values
    (``gra.ifd``); it is called on chunks so that progress can be shown. Samples
    with an outcome in ``dropped`` (e.g. from ``check_drops``) are not scored.
    """
    dropped = dropped or [None] * len(samples)
    partner = alien_partners([s.prompt for s in samples])
    out: list[Scored] = []
    for start in range(0, len(samples), chunk):
        part = samples[start : start + chunk]
        items: list[tuple[str | None, str]] = []
        for k, s in enumerate(part):
            if dropped[start + k]:
                continue
            items += [(s.prompt, s.response), (None, s.response)]
            other = partner[start + k]
            if opts.guard > 0 and other is not None:
                items.append((samples[other].prompt, s.response))
        got = iter(losses(items) if items else [])
        for k, s in enumerate(part):
            if dropped[start + k]:
                out.append(Scored.dropped(s, dropped[start + k]))
                continue
            cond, direct = next(got), next(got)
            has_alien = opts.guard > 0 and partner[start + k] is not None
            alien = next(got) if has_alien else None
            out.append(_judge_ifd(s, cond, direct, alien, opts, ifd))
        if progress:
            progress(len(out))
    return out


def _judge_ifd(s: Sample, cond: Any, direct: Any, alien: Any, opts: SelectOptions, ifd) -> Scored:
    detail: dict[str, Any] = {
        "response_tokens": cond.n_tokens,
        "cond_nll": _r(cond.mean_nll) if not cond.skip else None,
        "direct_nll": _r(direct.mean_nll) if not direct.skip else None,
    }
    skip = cond.skip or direct.skip
    if skip:
        why = f"not scored: {skip}"
        return Scored.dropped(s, Outcome("select", "not_scored", why), None, detail)
    value = ifd(cond, direct, opts.variant)
    if value is None:
        why = "not scored: IFD undefined"
        return Scored.dropped(s, Outcome("select", "ifd_undefined", why), None, detail)
    detail["ifd"] = _r(value)
    detail["ifd_variant"] = opts.variant
    if alien is not None and not alien.skip and alien.mean_nll > 0:
        detail["guard"] = _r(cond.mean_nll / alien.mean_nll)
    if value >= opts.max_ifd:
        why = f"IFD {value:.3f} >= {opts.max_ifd}"
        return Scored.dropped(s, Outcome("select", "ifd_max", why), value, detail)
    g = detail.get("guard")
    if g is not None and g >= opts.guard:
        why = f"mismatch guard: own/other instruction loss {g:.3f} >= {opts.guard}"
        return Scored.dropped(s, Outcome("select", "mismatch_guard", why), value, detail)
    return Scored(s, value, detail)


def _r(x: float) -> float:
    return round(float(x), 6)


def choose(
    scored: Sequence[Scored],
    opts: SelectOptions,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> list[int]:
    """Indices of the selected samples, best first."""
    eligible = [i for i, s in enumerate(scored) if not s.drop]
    if opts.method == "none":
        order = eligible
    else:
        order = [eligible[k] for k in rank_by_score([scored[i].score for i in eligible])]
    k = budget_size(len(order), opts.top_n, opts.top_percent)
    if opts.diversity == "none" or k == 0:
        return order[:k]
    if embed is None:
        raise ValueError("diversity needs an embedder")
    emb = embed([scored[i].sample.text for i in order])
    if opts.diversity == "deita":
        picked = deita_greedy(range(len(order)), emb, opts.tau, k)
    elif opts.diversity == "facility":
        picked = facility_location(emb, k)
    else:
        raise ValueError(f"unknown diversity method {opts.diversity!r}")
    return [order[j] for j in picked]
