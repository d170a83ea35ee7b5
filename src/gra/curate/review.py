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
from gra.council.caller import CALL_OWNER, Caller
from gra.council.council import Council, council_score
from gra.executors.choose import OnRay, open_executor
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

    def council(self, v: CouncilVerdict) -> None:
        """Take the council's verdict."""
        self.candidate = v.candidate
        stage = "adjudicator" if v.candidate.adjudication else "council"
        if v.keep:
            self.score, self.stage = v.score, stage
            self.reasons.append(v.reason)
        else:
            _reject(self, stage, v.reason, 0.0 if v.score is None else v.score)

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
    from gra.ifd.scoring import CachedScorer, default_cache_path, load_scorer

    scorer = CachedScorer(
        load_scorer(cfg.checks.mismatch_model, template="plain"), cache or default_cache_path()
    )
    try:
        mismatch_verdicts(judged, cfg, scorer.losses, progress)
    finally:
        scorer.close()


def mismatch_verdicts(
    judged: list[Judged],
    cfg: Config,
    losses: Callable[..., Any],
    progress: Callable[[str], None] | None = None,
) -> None:
    """The mismatch stage on ``judged`` with a scorer's ``losses``: each sample's partner
    is another of ``judged`` (``gra.curate.select.alien_partners``)."""
    from gra.curate.select import SelectOptions, score_ifd
    from gra.ifd.scoring import ifd

    c = cfg.checks
    opts = SelectOptions(
        guard=c.mismatch_ratio, max_ifd=c.mismatch_max_ifd if c.mismatch_max_ifd > 0 else 1e9
    )
    gone = Outcome("review", "rejected", "rejected")
    dropped = [gone if j.verdict != "accept" else None for j in judged]
    scored = score_ifd(
        [j.sample for j in judged],
        losses,
        opts,
        ifd,
        progress=(lambda n: progress(f"{n}/{len(judged)} mismatch-scored")) if progress else None,
        dropped=dropped,
    )
    for j, s in zip(judged, scored, strict=True):
        if j.verdict != "accept":
            continue
        j.mismatch = {k: v for k, v in s.detail.items() if k in ("ifd", "guard")}
        if s.outcome is not None and s.outcome.code in ("ifd_max", "mismatch_guard"):
            _reject(j, "mismatch", f"cheap check: mismatch ({s.drop})")


@dataclass
class CouncilVerdict:
    """What the council made of one sample (``CouncilWork``'s result)."""

    candidate: Candidate
    keep: bool
    reason: str
    score: float | None


class CouncilWork:
    """The council stage's work (the executor seam): ``await work(caller, (idx, sample))``.
    It holds only the config, so it pickles to a Ray worker; the caller it is handed makes
    the calls, and each is stored as ``sample:ID``'s (``call_owners``)."""

    def __init__(self, cfg: Config, adjudicate: bool):
        self.cfg, self.adjudicate = cfg, adjudicate
        self.council: Council | None = None
        self._caller: Caller | None = None

    def __getstate__(self) -> dict:
        return {"cfg": self.cfg, "adjudicate": self.adjudicate}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cfg"], state["adjudicate"])

    def call_owners(self, item: tuple[int, Sample]) -> list[str]:
        return [f"sample:{item[1].id}"]

    async def __call__(self, caller: Caller, item: tuple[int, Sample]) -> CouncilVerdict:
        if caller is not self._caller:
            self.close()
            self._caller, self.council = caller, Council(self.cfg, caller)
        assert self.council is not None
        idx, s = item
        c = Candidate(idx, s.domain, s.generator, [], s.instruction, s.input, s.response)
        owner = CALL_OWNER.set(f"sample:{s.id}")
        try:
            keep, reason = await self.council.judge(c, idx, adjudicator=self.adjudicate)
        except CallFailed as e:
            if e.down:
                raise
            keep, reason = False, f"model call failed: {e}"
        finally:
            CALL_OWNER.reset(owner)
        return CouncilVerdict(c, keep, reason, council_score(c, self.cfg))

    def close(self) -> None:
        if self.council is not None:
            self.council.close()
            self.council = None


def run_council_stage(
    judged: list[Judged],
    cfg: Config,
    store_path: Path,
    adjudicate: bool,
    progress: Callable[[str], None] | None = None,
    loader: Callable[..., Any] | None = None,
    ray: OnRay | None = None,
) -> None:
    """Review every sample still accepted; calls are answered from ``store_path``
    when they were made before (a re-run costs no model time)."""
    live = [j for j in judged if j.verdict == "accept"]
    if not live:
        return
    opener = lambda: Store(store_path, busy_hint=STORE_BUSY_HINT)  # noqa: E731
    executor = open_executor(
        cfg, opener, models=cfg.judging_models(adjudicate), loader=loader, ray=ray
    )
    work = CouncilWork(executor.config, adjudicate)
    done = 0

    def finished(item: tuple[int, Sample], v: CouncilVerdict) -> None:
        nonlocal done
        judged[item[0]].council(v)
        done += 1
        if progress:
            progress(f"{done}/{len(live)} reviewed")

    items = [(i, j.sample) for i, j in enumerate(judged) if j.verdict == "accept"]
    try:
        executor.map(work, items, finished, executor.config.candidates_in_flight())
    finally:
        work.close()
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
    ray: OnRay | None = None,
) -> list[Judged]:
    """Run ``cfg.review.stages`` over ``samples``; one Judged per sample, in order.
    ``loader`` replaces gra's model loader (tests); ``ray``: the council stage on Ray."""
    stages = check_stages(cfg.review.stages)
    judged = [Judged(s) for s in samples]
    # the store is this review's alone from the start: a second process stops at once
    with ProcessLock(lock_path(store_path), str(store_path), STORE_BUSY_HINT):
        if "checks" in stages:
            run_checks_stage(judged, cfg)
        if "mismatch" in stages and "mismatch" not in cfg.checks.disabled:
            run_mismatch_stage(judged, cfg, cache, progress)
        if "council" in stages:
            adjudicate = "adjudicator" in stages
            run_council_stage(judged, cfg, store_path, adjudicate, progress, loader, ray)
        else:
            for j in judged:
                if j.verdict == "accept":
                    j.score = 1.0 if stages else None
    return judged


class Tally:
    """``summarize``'s counts, one verdict at a time (a review streamed through the driver
    holds none of them)."""

    def __init__(self) -> None:
        self.verdicts: Counter = Counter()
        self.by_stage: Counter = Counter()
        self.methods: Counter = Counter()
        self.n = self.reviews = self.reviewed = self.adjudicated = self.tokens = 0

    def add(self, j: Judged) -> None:
        self.n += 1
        self.verdicts[j.verdict] += 1
        if j.verdict == "reject":
            self.by_stage[j.stage] += 1
        if j.candidate:
            self.reviewed += 1
            self.reviews += len(j.candidate.reviews)
            self.methods.update(r.method for r in j.candidate.reviews if r.ok)
            self.adjudicated += j.candidate.adjudication is not None
        self.tokens += j.tokens()

    def summary(self) -> dict[str, Any]:
        accepted = self.verdicts.get("accept", 0)
        return {
            "samples": self.n,
            "accepted": accepted,
            "rejected": self.verdicts.get("reject", 0),
            "rejected_by": dict(self.by_stage),
            "reviewed": self.reviewed,
            "reviews": self.reviews,
            "adjudicated": self.adjudicated,
            "score_methods": dict(self.methods),
            "review_tokens": self.tokens,
            "review_tokens_per_sample": round(self.tokens / self.n, 1) if self.n else 0.0,
            "review_tokens_per_accepted": round(self.tokens / accepted, 1) if accepted else None,
        }


def summarize(judged: Sequence[Judged]) -> dict[str, Any]:
    """Counts, the deciding stages and the review tokens spent (per sample, per
    accepted sample)."""
    tally = Tally()
    for j in judged:
        tally.add(j)
    return tally.summary()
