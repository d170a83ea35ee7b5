"""Which generator writes the next candidate: ``generation.pick``.

- ``random`` / ``round_robin``: from the run seed and the candidate's index alone.
- ``adaptive``: a bandit per domain (Thompson sampling) on what a generator earns --
  accepted samples per token spent on its candidates (generation, checks and every
  review and adjudication call). Each (domain, model) first gets ``generation.warmup``
  picks of evidence, counted as the bandit counts outcomes: its picks in the domain plus
  half of its picks elsewhere (the least first, ties broken by the run seed; with 6
  domains and warmup 2 that is about 4 picks of each model in all). Then each model's rate is
  drawn from its posterior and the highest draw is picked. Accepted samples are counted
  against tokens spent (a Poisson rate with a Gamma prior): Gamma(r + accepted, t + tokens),
  where the prior is one candidate at the run's rate so far (r accepted per finished
  candidate, at least 0.01; t tokens per candidate) and the counts are the model's in
  this domain plus half of its counts in the other domains -- so a model that earns nothing
  anywhere is left quickly in every domain, and one domain's luck does not decide alone.

The driver picks when it launches a candidate, from the outcomes stored so far, and
records the pick with the posterior it came from (``Candidate.routing``). A resumed run
takes up an unfinished candidate with its recorded pick; a new pick depends only on the run
seed, the candidate's index and the outcomes so far (not on their order), so a run resumed
after a crash picks as the uninterrupted run would have, given the same outcomes.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from gra.core.records import Candidate
from gra.council.steps.common import derive_seed

TERMINAL_FOR_ROUTING = ("accepted", "surplus", "rejected", "duplicate", "failed")
OTHER_DOMAINS = 0.5  # the weight of a model's outcomes in the other domains


def candidate_tokens(c: Candidate) -> int:
    """Prompt and completion tokens of every call the candidate made (cached ones too:
    what the candidate cost when it was made)."""
    if c.preference:  # the instruction, then each response and its council calls
        own = [c.calls.get("instruction")]
        extra = sum(r.get("tokens", 0) for r in c.preference["responses"])
    else:
        own = [*c.calls.values(), *(r.call for r in c.reviews)]
        if c.adjudication is not None:
            own.append(c.adjudication.call)
        extra = 0
    return extra + sum(x.prompt_tokens + x.completion_tokens for x in own if x is not None)


@dataclass
class Arm:
    """One (domain, model): how often picked, and what its finished candidates earned."""

    picks: int = 0
    finished: int = 0
    accepted: int = 0
    tokens: int = 0


@dataclass
class Router:
    """Adaptive picking (module doc). ``models``: the generators; ``seed``: the run's."""

    models: list[str]
    seed: int
    warmup: int = 3
    arms: dict[tuple[str, str], Arm] = field(default_factory=lambda: defaultdict(Arm))

    def load(self, candidates: list[Candidate]) -> None:
        """The picks and outcomes of a run so far (its stored candidates)."""
        for c in candidates:
            if c.generator:
                self.arms[(c.domain, c.generator)].picks += 1
                if c.state in TERMINAL_FOR_ROUTING:
                    self.finished(c)

    def finished(self, c: Candidate) -> None:
        """Count the outcome of ``c`` (its pick was counted when it was made)."""
        arm = self.arms[(c.domain, c.generator)]
        arm.finished += 1
        arm.accepted += c.state in ("accepted", "surplus")
        arm.tokens += candidate_tokens(c)

    def _prior(self) -> tuple[float, float]:
        """One candidate at the run's rate so far: (acceptances, tokens)."""
        done = [a for a in self.arms.values() if a.finished]
        n = sum(a.finished for a in done)
        if not n:
            return 1.0, 1000.0
        return max(0.01, sum(a.accepted for a in done) / n), sum(a.tokens for a in done) / n

    def _counts(self, domain: str, model: str) -> tuple[float, float]:
        """(accepted, tokens) of ``model``: in ``domain``, plus half of those elsewhere."""
        here = self.arms[(domain, model)]
        accepted, tokens = float(here.accepted), float(here.tokens)
        for (d, m), a in self.arms.items():
            if m == model and d != domain:
                accepted += OTHER_DOMAINS * a.accepted
                tokens += OTHER_DOMAINS * a.tokens
        return accepted, tokens

    def _picks(self, domain: str, model: str) -> float:
        """Picks of ``model`` in ``domain`` plus half of those elsewhere: the warm-up's
        evidence, weighted as ``_counts`` weighs outcomes."""
        return sum(
            a.picks * (1.0 if d == domain else OTHER_DOMAINS)
            for (d, m), a in self.arms.items()
            if m == model
        )

    def pick(self, idx: int, domain: str) -> tuple[str, dict[str, Any]]:
        """The generator for candidate ``idx`` in ``domain``, and why (recorded with it)."""
        rng = random.Random(derive_seed(self.seed, idx, "route"))
        seen = {m: self._picks(domain, m) for m in self.models}
        cold = [m for m in self.models if seen[m] < self.warmup]
        if cold:
            fewest = min(seen[m] for m in cold)
            model = rng.choice([m for m in cold if seen[m] == fewest])
            why: dict[str, Any] = {"phase": "warmup"}
        else:
            shape, rate = self._prior()
            post = {}
            for m in self.models:
                accepted, tokens = self._counts(domain, m)
                post[m] = (shape + accepted, rate + tokens)
            draws = {m: rng.gammavariate(a, 1.0) / b for m, (a, b) in post.items()}
            model = max(self.models, key=lambda m: (draws[m], -self.models.index(m)))
            why = {
                "phase": "bandit",
                "posterior": {
                    m: {
                        "accepted": round(a, 4),
                        "tokens": round(b, 1),
                        "draw_per_1k": round(1000 * draws[m], 6),
                    }
                    for m, (a, b) in post.items()
                },
            }
        self.arms[(domain, model)].picks += 1
        return model, why


def routing_table(candidates: list[Candidate], windows: int = 4) -> dict[str, Any]:
    """Picks and acceptance per (domain, model), overall and over time (the run's
    candidates cut into ``windows`` equal spans of index), for summary.json and the report."""
    done = [c for c in candidates if c.generator and c.state in TERMINAL_FOR_ROUTING]
    by: dict[str, dict[str, dict[str, Any]]] = {}
    for c in done:
        row = by.setdefault(c.domain, {}).setdefault(
            c.generator, {"picks": 0, "accepted": 0, "tokens": 0}
        )
        row["picks"] += 1
        row["accepted"] += c.state in ("accepted", "surplus")
        row["tokens"] += candidate_tokens(c)
    for models in by.values():
        for row in models.values():
            row["accepted_per_1k_tokens"] = (
                round(1000 * row["accepted"] / row["tokens"], 4) if row["tokens"] else 0.0
            )
    spans = []
    if done:
        last = max(c.idx for c in done) + 1
        width = -(-last // windows)
        for w in range(windows):
            lo, hi = w * width, min(last, (w + 1) * width)
            inside = [c for c in done if lo <= c.idx < hi]
            if not inside:
                continue
            picks: dict[str, int] = {}
            accepted: dict[str, int] = {}
            for c in inside:
                picks[c.generator] = picks.get(c.generator, 0) + 1
                accepted[c.generator] = accepted.get(c.generator, 0) + (
                    c.state in ("accepted", "surplus")
                )
            spans.append({"candidates": f"{lo}-{hi - 1}", "picks": picks, "accepted": accepted})
    return {"by_domain": by, "over_time": spans}
