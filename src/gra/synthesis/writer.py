"""Writing a run's results: data files in each format and summary.json.

Everything is derived from the run store, so the same call writes the output
of a finished run, a stopped one, or a resumed one; files are replaced
atomically, never left half-written.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gra.core.records import Candidate
from gra.core.store import Store
from gra.io.formats import export, write_json_atomic
from gra.synthesis.card import write_card
from gra.synthesis.preference import preference_record

log = logging.getLogger("gra")


def _call(info) -> dict[str, Any] | None:
    return asdict(info) if info else None


def output_record(c: Candidate) -> dict[str, Any]:
    """One accepted sample with its full provenance (the ``gra`` format)."""
    return {
        "id": c.id,
        "instruction": c.instruction,
        "input": c.input,
        "response": c.response,
        "domain": c.domain,
        "keywords": c.keywords,
        "summary": c.summary,
        "provenance": {
            "generator": c.generator,
            "seed_ids": c.seed_ids,
            "generation_calls": {k: _call(v) for k, v in c.calls.items()},
            "reviews": [
                {
                    "reviewer": r.reviewer,
                    "ok": r.ok,
                    "scores": r.scores,
                    "overall": r.overall,
                    "critique": r.critique,
                    "error": r.error,
                    "raw": "" if r.ok else r.raw,
                    "call": _call(r.call),
                }
                for r in c.reviews
            ],
            "aggregate": asdict(c.aggregate) if c.aggregate else None,
            "adjudication": ({**asdict(c.adjudication), "raw": ""} if c.adjudication else None),
            "reason": c.reason,
            "timings": c.timings,
        },
    }


def _rate(table: dict[str, Counter]) -> dict[str, dict[str, Any]]:
    out = {}
    for key in sorted(table):
        n, acc = sum(table[key].values()), table[key]["accepted"]
        out[key] = {"candidates": n, "accepted": acc, "rate": round(acc / n, 3) if n else 0.0}
    return out


def summarize(store: Store, cands: list[Candidate]) -> dict[str, Any]:
    states = Counter(c.state for c in cands)
    checks = Counter(
        c.outcome.code for c in cands if c.outcome is not None and c.outcome.stage == "checks"
    )
    decisions = Counter(c.aggregate.decision for c in cands if c.aggregate)
    adjudicated = Counter(
        ("keep" if c.adjudication.keep else "drop") for c in cands if c.adjudication
    )
    reviews = [r for c in cands for r in c.reviews]
    by_gen: dict[str, Counter] = defaultdict(Counter)
    by_domain: dict[str, Counter] = defaultdict(Counter)
    for c in cands:
        if c.state in ("running", "cancelled") or not c.generator:
            continue
        by_gen[c.generator][c.state] += 1
        by_domain[c.domain][c.state] += 1
    finished = [c for c in cands if c.state not in ("running", "cancelled")]
    usage = store.usage_by("role")
    review_tokens = sum(
        int(usage.get(role, {}).get(k, 0))
        for role in ("review", "adjudicate")
        for k in ("prompt_tokens", "completion_tokens")
    )
    accepted = states.get("accepted", 0)
    reviewed = sum(1 for c in cands if c.aggregate)
    tokens = store.total_tokens()
    return {
        "counts": {
            "candidates": len(finished),
            "unfinished": states.get("running", 0),
            # in flight when the target was reached: not part of the funnel's shares
            "cancelled_at_target": states.get("cancelled", 0),
            "generation_failed": states.get("failed", 0),
            "cheap_check_rejected": sum(checks.values()),
            "reviewed": sum(1 for c in cands if c.aggregate),
            "accepted_by_council": decisions.get("accept", 0),
            "rejected_by_council": decisions.get("reject", 0),
            "adjudicated": sum(adjudicated.values()),
            "adjudicator_kept": adjudicated.get("keep", 0),
            "adjudicator_dropped": adjudicated.get("drop", 0),
            "duplicates": states.get("duplicate", 0),
            "accepted": states.get("accepted", 0),
            "surplus": states.get("surplus", 0),
        },
        "cheap_checks": dict(checks),
        "reviews": {
            "total": len(reviews),
            "unparseable": sum(not r.ok for r in reviews),
            "per_reviewed_candidate": round(len(reviews) / reviewed, 3) if reviewed else 0.0,
            "score_methods": dict(Counter(r.method for r in reviews if r.ok)),
        },
        "acceptance_by_generator": _rate(by_gen),
        "acceptance_by_domain": _rate(by_domain),
        "usage_by_role": store.usage_by("role"),
        "usage_by_model": store.usage_by("model"),
        "tokens_total": tokens,
        "tokens_per_accepted": round(tokens / accepted, 1) if accepted else None,
        "review_tokens": review_tokens,
        "review_tokens_per_accepted": round(review_tokens / accepted, 1) if accepted else None,
        "failed_calls": store.failure_counts(),
    }


def write_outputs(
    store: Store, run_dir: Path, formats: list[str], extra: dict[str, Any]
) -> dict[str, Any]:
    """Write data files and summary.json from the store; returns the summary."""
    cands = store.candidates()
    records = [
        preference_record(c) if c.preference else output_record(c)
        for c in cands
        if c.state == "accepted"
    ]
    files = {}
    for fmt in dict.fromkeys(["gra", *formats]):
        files[fmt] = str(export(records, run_dir, fmt).name)
    summary = {**extra, "files": files, **summarize(store, cands)}
    write_json_atomic(run_dir / "summary.json", summary)
    try:
        write_card(run_dir, summary, store)
    except Exception as e:  # noqa: BLE001 - the data and summary are written: never lose them to the card
        log.warning("dataset card not written (%s: %s)", type(e).__name__, e)
    return summary
