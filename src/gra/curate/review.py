"""``gra review``: the council's stages on an existing dataset (the paper's "refine").

Stages (``review.stages`` in the config, in this order; any may be left out):

- ``checks``: the cheap text checks (``gra.checks``; ``checks.disabled`` applies);
- ``mismatch``: a small model's instruction-response mismatch signal (below);
- ``council``: reviewers score the pair; the aggregate decides accept / reject /
  adjudicate (``gra.council``);
- ``adjudicator``: decides the pairs the council left open. Without it, an open
  pair is accepted when its council mean is at least the midpoint of
  ``aggregate.reject_mean`` and ``aggregate.accept_mean``.

Each sample gets a verdict, a ``score`` (higher is better, comparable across
samples: ``gra.council.council_score``, 0 for a pair a check rejected, and, with no
council, 1 for a pair the checks passed) and the reasons.

Mismatch: the response's loss after its own instruction is compared with its loss
after another sample's instruction (the mismatch guard of ``gra select``): when its
own instruction explains it no better (ratio >= ``checks.mismatch_ratio``), or the
instruction does not help at all (IFD >= ``checks.mismatch_max_ifd``), the pair is
taken for a response to a different instruction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gra.config import Config, check_stages
from gra.core.calls import CallFailed
from gra.core.lock import ProcessLock, lock_path
from gra.core.records import Candidate, Outcome
from gra.core.store import Store
from gra.council.caller import Caller
from gra.council.council import Council, council_score
from gra.executors import LocalExecutor
from gra.io.datasets import Sample


@dataclass
class Judged:
    """What the stages made of one sample."""

    sample: Sample
    verdict: str = "accept"  # accept | reject
    score: float | None = None
    reasons: list[str] = field(default_factory=list)
    stage: str = ""  # the stage that decided ("" = none: no stage rejected it)
    mismatch: dict[str, Any] = field(default_factory=dict)
    candidate: Candidate | None = None  # reviews, aggregate, adjudication

    def tokens(self) -> int:
        c = self.candidate
        if c is None:
            return 0
        calls = [*c.calls.values(), *(r.call for r in c.reviews)]  # judges, tests, reviews
        if c.adjudication is not None:
            calls.append(c.adjudication.call)
        return sum(x.prompt_tokens + x.completion_tokens for x in calls if x is not None)

    def record(self) -> dict[str, Any]:
        """The verdict line: the input record's fields, then the verdict's."""
        c = self.candidate
        out = dict(self.sample.record)
        out["id"] = self.sample.id
        out.update(
            verdict=self.verdict,
            score=self.score,
            reasons=self.reasons,
            decided_by=self.stage or "none",
        )
        if self.mismatch:
            out["mismatch"] = self.mismatch
        out["reviews"] = [
            {
                "reviewer": r.reviewer,
                "ok": r.ok,
                "method": r.method,
                "scores": r.scores,
                "sampled_scores": r.sampled or (r.scores if r.ok else {}),
                "overall": None if r.overall is None else round(r.overall, 4),
                "critique": r.critique,
                "error": r.error,
                "tokens": (r.call.prompt_tokens + r.call.completion_tokens) if r.call else 0,
            }
            for r in (c.reviews if c else [])
        ]
        out["aggregate"] = asdict(c.aggregate) if c and c.aggregate else None
        adj = c.adjudication if c else None
        out["adjudication"] = (
            {"adjudicator": adj.adjudicator, "ok": adj.ok, "keep": adj.keep}
            | {"p_keep": adj.p_keep, "reason": adj.reason}
            if adj
            else None
        )
        out["review_tokens"] = self.tokens()
        return out


STORE_BUSY_HINT = "or review into another --out (or --store)"


def run_checks_stage(judged: list[Judged], cfg: Config) -> None:
    from gra.curate.select import check_drops

    live = [j for j in judged if j.verdict == "accept"]
    drops = check_drops([j.sample for j in live], cfg.checks.disabled)
    for j, outcome in zip(live, drops, strict=True):
        if outcome is not None:
            _reject(j, "checks", outcome.detail)


def run_mismatch_stage(
    judged: list[Judged],
    cfg: Config,
    cache: Path | None,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Flag pairs the small model takes for mismatched (see module doc). Every sample
    is scored once; samples already rejected only lend their instruction as another's
    partner."""
    from gra.curate.select import SelectOptions, score_ifd
    from gra.ifd.scoring import CachedScorer, default_cache_path, ifd, load_scorer

    c = cfg.checks
    opts = SelectOptions(
        guard=c.mismatch_ratio, max_ifd=c.mismatch_max_ifd if c.mismatch_max_ifd > 0 else 1e9
    )
    gone = Outcome("review", "rejected", "rejected")
    dropped = [gone if j.verdict != "accept" else None for j in judged]
    scorer = CachedScorer(
        load_scorer(c.mismatch_model, template="plain"), cache or default_cache_path()
    )
    try:
        scored = score_ifd(
            [j.sample for j in judged],
            scorer.losses,
            opts,
            ifd,
            progress=(lambda n: progress(f"{n}/{len(judged)} mismatch-scored"))
            if progress
            else None,
            dropped=dropped,
        )
    finally:
        scorer.close()
    for j, s in zip(judged, scored, strict=True):
        if j.verdict != "accept":
            continue
        j.mismatch = {k: v for k, v in s.detail.items() if k in ("ifd", "guard")}
        if s.outcome is not None and s.outcome.code in ("ifd_max", "mismatch_guard"):
            _reject(j, "mismatch", f"cheap check: mismatch ({s.drop})")


def run_council_stage(
    judged: list[Judged],
    cfg: Config,
    store_path: Path,
    adjudicate: bool,
    progress: Callable[[str], None] | None = None,
    loader: Callable[..., Any] | None = None,
) -> None:
    """Review every sample still accepted; calls are answered from ``store_path``
    when they were made before (a re-run costs no model time)."""
    live = [j for j in judged if j.verdict == "accept"]
    if not live:
        return
    executor = LocalExecutor(
        cfg,
        lambda: Store(store_path, busy_hint=STORE_BUSY_HINT),
        models=cfg.judging_models(adjudicate),
        loader=loader,
    )
    cfg = executor.config
    council = Council(cfg, executor.caller)
    done = 0

    async def one(caller: Caller, item: tuple[int, Judged]) -> None:
        idx, j = item
        s = j.sample
        c = Candidate(idx, s.domain, s.generator, [], s.instruction, s.input, s.response)
        j.candidate = c
        try:
            keep, reason = await council.judge(c, idx, adjudicator=adjudicate)
        except CallFailed as e:
            if e.down:
                raise
            keep, reason = False, f"model call failed: {e}"
        score = council_score(c, cfg)
        stage = "adjudicator" if c.adjudication else "council"
        if keep:
            j.score, j.stage = score, stage
            j.reasons.append(reason)
        else:
            _reject(j, stage, reason, 0.0 if score is None else score)

    def finished(item: tuple[int, Judged], _: None) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(f"{done}/{len(live)} reviewed")

    items = [(i, j) for i, j in enumerate(judged) if j.verdict == "accept"]
    try:
        executor.map(one, items, finished, cfg.candidates_in_flight())
    finally:
        council.close()
        executor.close()
        executor.caller.store.close()


def _reject(j: Judged, stage: str, reason: str, score: float | None = 0.0) -> None:
    j.verdict, j.stage, j.score = "reject", stage, score
    j.reasons.append(reason)


def review_samples(
    samples: Sequence[Sample],
    cfg: Config,
    store_path: Path,
    cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
    loader: Callable[..., Any] | None = None,
) -> list[Judged]:
    """Run ``cfg.review.stages`` over ``samples``; one Judged per sample, in order.
    ``loader`` replaces gra's model loader (tests)."""
    stages = check_stages(cfg.review.stages)
    judged = [Judged(s) for s in samples]
    # the store is this review's alone from the start: a second process stops at once
    with ProcessLock(lock_path(store_path), str(store_path), STORE_BUSY_HINT):
        if "checks" in stages:
            run_checks_stage(judged, cfg)
        if "mismatch" in stages and "mismatch" not in cfg.checks.disabled:
            run_mismatch_stage(judged, cfg, cache, progress)
        if "council" in stages:
            run_council_stage(judged, cfg, store_path, "adjudicator" in stages, progress, loader)
        else:
            for j in judged:
                if j.verdict == "accept":
                    j.score = 1.0 if stages else None
    return judged


def summarize(judged: Sequence[Judged]) -> dict[str, Any]:
    """Counts, the deciding stages and the review tokens spent (per sample, per
    accepted sample)."""
    verdicts = Counter(j.verdict for j in judged)
    by_stage = Counter(j.stage for j in judged if j.verdict == "reject")
    methods = Counter(r.method for j in judged if j.candidate for r in j.candidate.reviews if r.ok)
    n_reviews = sum(len(j.candidate.reviews) for j in judged if j.candidate)
    reviewed = sum(1 for j in judged if j.candidate)
    tokens = sum(j.tokens() for j in judged)
    accepted = verdicts.get("accept", 0)
    return {
        "samples": len(judged),
        "accepted": accepted,
        "rejected": verdicts.get("reject", 0),
        "rejected_by": dict(by_stage),
        "reviewed": reviewed,
        "reviews": n_reviews,
        "adjudicated": sum(1 for j in judged if j.candidate and j.candidate.adjudication),
        "score_methods": dict(methods),
        "review_tokens": tokens,
        "review_tokens_per_sample": round(tokens / len(judged), 1) if judged else 0.0,
        "review_tokens_per_accepted": round(tokens / accepted, 1) if accepted else None,
    }
