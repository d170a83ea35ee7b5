"""``task: preference``: chosen/rejected pairs from the council (docs/preference.md).

For each new instruction, ``preference.k`` responses: response i comes from
``generation.models`` in turn, starting with the instruction's writer, at
``preference.temperatures[i]`` (default ``generation.temperature``), each with its own
sampling seed. Each response goes through the cheap checks and, when it passes them, the
council; its score is the council's (``gra.council.council_score``, 1-10; what ``gra
review`` writes), and a response a cheap check rejected scores 0 and names the check.

The pair (``pair``): the chosen response is the best-scored one the council accepted;
the rejected one is the worst-scored of the others; the pair is kept when the margin
between them is at least ``preference.min_margin``. A candidate with a pair is accepted
(its ``response`` is the chosen one); without one it is rejected, and its outcome says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gra.config import Config
from gra.core.records import Candidate

MARGIN_EDGES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)


@dataclass
class Response:
    """One of the k responses to an instruction, and what was decided about it."""

    model: str
    temperature: float
    text: str = ""
    finish_reason: str = ""
    check: str | None = None  # the cheap check that rejected it
    score: float | None = None  # the council's 1-10; 0 when a check rejected it
    keep: bool = False  # passed the accept rule
    reason: str = ""
    call: dict[str, Any] | None = None
    tokens: int = 0  # of its own call and every council call about it
    aggregate: dict[str, Any] | None = None
    reviews: list[dict[str, Any]] = field(default_factory=list)


def responders(cfg: Config, generator: str) -> list[tuple[str, float]]:
    """(model, temperature) of each of the k responses."""
    models = cfg.generation.models
    start = models.index(generator) if generator in models else 0
    temps = cfg.preference.temperatures or [cfg.generation.temperature]
    return [
        (models[(start + i) % len(models)], temps[i % len(temps)]) for i in range(cfg.preference.k)
    ]


def pair(responses: list[Response], min_margin: float) -> tuple[int, int, float] | str:
    """(chosen, rejected, margin) by index, or why there is no pair (module doc). Ties:
    the earlier response is chosen, the later one rejected."""
    kept = [i for i, r in enumerate(responses) if r.keep and r.score is not None]
    if not kept:
        return "no response passed the accept rule"
    chosen = max(kept, key=lambda i: (responses[i].score, -i))
    others = [i for i, r in enumerate(responses) if i != chosen and r.score is not None]
    if not others:
        return "no other response was scored"
    rejected = min(others, key=lambda i: (responses[i].score, -i))
    margin = round(responses[chosen].score - responses[rejected].score, 4)
    if margin < min_margin:
        return f"margin {margin:g} below preference.min_margin {min_margin:g}"
    return chosen, rejected, margin


def preference_record(c: Candidate) -> dict[str, Any]:
    """One pair with its full provenance (``data.jsonl`` of a preference run)."""
    p = c.preference or {}
    rs = p.get("responses", [])
    chosen, rejected = rs[p["chosen"]], rs[p["rejected"]]
    prompt = f"{c.instruction}\n\n{c.input}" if c.input else c.instruction
    return {
        "id": c.id,
        "prompt": prompt,
        "chosen": chosen["text"],
        "rejected": rejected["text"],
        "chosen_score": chosen["score"],
        "rejected_score": rejected["score"],
        "margin": p["margin"],
        "domain": c.domain,
        "provenance": {
            "instruction_writer": c.generator,
            "seed_ids": c.seed_ids,
            "chosen_model": chosen["model"],
            "rejected_model": rejected["model"],
            "rejected_check": rejected["check"],
            "responses": rs,
            "instruction_call": asdict(call) if (call := c.calls.get("instruction")) else None,
        },
    }


def preference_summary(cands: list[Candidate]) -> dict[str, Any]:
    """Pairs, their margins (a histogram over 0-10), and which model's response was chosen
    or rejected how often; why instructions got no pair."""
    pairs = [c.preference for c in cands if c.state == "accepted" and c.preference]
    hist = [0] * (len(MARGIN_EDGES) - 1)
    chosen: dict[str, int] = {}
    rejected: dict[str, int] = {}
    by_check: dict[str, int] = {}
    for p in pairs:
        rs = p["responses"]
        hist[min(int(p["margin"]), len(hist) - 1)] += 1
        c, r = rs[p["chosen"]], rs[p["rejected"]]
        chosen[c["model"]] = chosen.get(c["model"], 0) + 1
        rejected[r["model"]] = rejected.get(r["model"], 0) + 1
        if r["check"]:
            by_check[r["check"]] = by_check.get(r["check"], 0) + 1
    no_pair: dict[str, int] = {}
    for c in cands:
        if c.outcome is not None and c.outcome.stage == "preference" and c.state != "accepted":
            no_pair[c.outcome.code] = no_pair.get(c.outcome.code, 0) + 1
    return {
        "pairs": len(pairs),
        "margin_histogram": {"edges": list(MARGIN_EDGES), "counts": hist},
        "chosen_by_model": chosen,
        "rejected_by_model": rejected,
        "rejected_by_check": by_check,
        "no_pair": no_pair,
    }
