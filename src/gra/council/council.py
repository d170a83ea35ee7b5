"""The council's judgement of one instruction-response pair: reviewers, the
aggregate, and the adjudicator on disagreement. ``gra synth`` judges the candidates
it generates with it, ``gra review`` the samples of an existing dataset.

Reviewers are asked one after another, and no more are asked once the verdict is
settled: every review so far lies ``review.sure_margin`` or more beyond a threshold
(at or above ``accept_mean + margin``, or below ``reject_mean - margin``). With the
default of two reviewers this skips the second review of clear cases.

With ``aggregate.rule: calibrated`` (the default) the verdict is gra.council.verdict's p(good)
from the signals that have a weight: each judge of ``aggregate.judges`` answers one yes/no
question (one token, read as p(Yes)), each model of ``aggregate.loss_models`` scores the
response's token loss (gra.council.loss_signal), and the reviewers are asked only for the
``rubric`` signal. The pair is accepted when p(good) >= ``aggregate.accept_p``; nothing is
left open, so the adjudicator is not asked. ``aggregate.rule: mean_std`` is the paper's rule below.

A judged pair's ``score`` (``council_score``) is comparable across samples: under the
calibrated rule ``1 + 9 * p(good)``; under mean_std the council mean (1-10) when the
council decided, and for an adjudicated pair
``reject_mean + p(keep) * (accept_mean - reject_mean)``, so it lies in the band
between the thresholds where the adjudicator's confidence places it.
"""

from __future__ import annotations

import asyncio
import time

from gra.checks.code_run import run_tests
from gra.config import Config, ReviewSettings
from gra.core.records import Aggregate, Candidate, Outcome, Review
from gra.council import verdict
from gra.council.caller import Caller
from gra.council.loss_signal import LossSignals
from gra.council.steps import adjudicate, judge_yes, review, write_tests
from gra.council.steps.aggregate import aggregate
from gra.council.steps.common import derive_seed
from gra.io.datasets import user_prompt


def pick_reviewers(models: list[str], generator: str, n: int, start: int) -> list[str]:
    """n reviewers, never the generator while another model exists; cycles if few."""
    pool = [m for m in models if m != generator] or list(models)
    return [pool[(start + j) % len(pool)] for j in range(n)]


def pick_adjudicator(models: list[str], generator: str) -> str:
    """The first listed adjudicator that is not the generator (if there is one)."""
    return next((m for m in models if m != generator), models[0])


def settled(reviews: list[Review], cfg: Config) -> bool:
    """Whether further reviews cannot change the council's decision (see module doc)."""
    margin = cfg.review.sure_margin
    overall = [r.overall for r in reviews if r.overall is not None]
    a = cfg.aggregate
    if margin < 0 or len(overall) < max(1, a.min_valid_reviews) or len(overall) < len(reviews):
        return False
    return all(o >= a.accept_mean + margin for o in overall) or all(
        o < a.reject_mean - margin for o in overall
    )


def council_score(c: Candidate, cfg: Config) -> float | None:
    """The pair's score, higher is better (see module doc); None when unjudged."""
    a = cfg.aggregate
    if c.aggregate is not None and c.aggregate.p_good is not None:
        return round(1 + 9 * c.aggregate.p_good, 4)
    if c.adjudication is not None:
        adj = c.adjudication
        p_keep = adj.p_keep if adj.p_keep is not None else float(adj.keep)
        return round(a.reject_mean + p_keep * (a.accept_mean - a.reject_mean), 4)
    if c.aggregate is not None and c.aggregate.mean is not None:
        return c.aggregate.mean
    return None


async def ask_reviewer(
    call: Caller, name: str, settings: ReviewSettings, pair: tuple[str, str, str], seed: int
) -> Review:
    """One review of ``pair`` (instruction, input, response) by model ``name``."""
    req = review.build(
        *pair,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        seed=seed,
        logprobs=settings.logprobs,
    )
    reply, info = await call(name, "review", review.PROMPT.id, req)
    rev = review.parse(name, reply.text, reply.extra.get("logprobs"))
    rev.call = info
    return rev


async def ask_judge(call: Caller, name: str, pair: tuple[str, str, str], seed: int):
    """p(Yes) of model ``name``'s yes/no judgement of ``pair``, and the call's info."""
    reply, info = await call(name, "judge", judge_yes.PROMPT.id, judge_yes.build(*pair, seed=seed))
    return judge_yes.p_yes(reply.text, reply.extra.get("logprobs")), info


class Council:
    def __init__(self, cfg: Config, call: Caller, losses: LossSignals | None = None):
        self.cfg = cfg
        self.call = call
        self.losses = losses or LossSignals(cfg)

    def close(self) -> None:
        """Free the loss scorers (models loaded for the loss:MODEL signals)."""
        self.losses.close()

    async def judge(self, c: Candidate, start: int, adjudicator: bool = True) -> tuple[bool, str]:
        """Review ``c`` (filling reviews, aggregate, adjudication, timings and its
        ``outcome``): keep it? Without the ``adjudicator`` an open decision falls to the
        midpoint of the thresholds: keep when the mean is at least (reject_mean +
        accept_mean) / 2."""
        c.outcome = None
        keep, reason = await self._judge(c, start, adjudicator)
        if c.outcome is None:
            if c.adjudication is not None:
                c.outcome = Outcome("adjudicator", "kept" if keep else "dropped", reason)
            else:
                c.outcome = Outcome("council", "accepted" if keep else "rejected", reason)
        return keep, reason

    async def _judge(self, c: Candidate, start: int, adjudicator: bool) -> tuple[bool, str]:
        t0 = time.perf_counter()
        if self.cfg.review.code_tester:
            failed = await self.code_tests(c)
            if failed:
                c.timings["review_s"] = round(time.perf_counter() - t0, 3)
                c.outcome = Outcome("council", "code_tests", failed)
                return False, failed
        if self.cfg.aggregate.rule == "calibrated":
            keep, reason = await self.calibrated(c, start)
            c.timings["review_s"] = round(time.perf_counter() - t0, 3)
            return keep, reason
        c.reviews = await self.reviews(c, start)
        c.aggregate = a = aggregate(c.reviews, self.cfg.aggregate)
        c.timings["review_s"] = round(time.perf_counter() - t0, 3)
        if a.decision != "adjudicate":
            return a.decision == "accept", a.reason
        if not adjudicator:
            mid = (self.cfg.aggregate.accept_mean + self.cfg.aggregate.reject_mean) / 2
            if a.mean is None:
                return False, f"{a.reason}; no adjudicator: reject"
            keep = a.mean >= mid
            return (
                keep,
                f"{a.reason}; no adjudicator: mean {a.mean:.2f} {'>=' if keep else '<'} {mid}",
            )
        t0 = time.perf_counter()
        keep, reason = await self.adjudicate(c)
        c.timings["adjudicate_s"] = round(time.perf_counter() - t0, 3)
        return keep, reason

    async def calibrated(self, c: Candidate, start: int) -> tuple[bool, str]:
        """The calibrated verdict (module doc): fills ``c.aggregate`` with p(good)."""
        a = self.cfg.aggregate
        pair = (c.instruction, c.input, c.response)
        seed = derive_seed(self.cfg.seed, c.idx, "judge")
        judges = [m for m in a.judges if a.weights.get(f"yes:{m}")]
        scorers = [m for m in a.loss_models if a.weights.get(f"loss:{m}")]
        prompt = user_prompt(c.instruction, c.input)
        # the judges' calls and the loss passes run at the same time
        judged, nlls = await asyncio.gather(
            asyncio.gather(*(ask_judge(self.call, m, pair, seed) for m in judges)),
            asyncio.gather(*(self.losses.mean_nll(m, prompt, c.response) for m in scorers)),
        )
        for m, (_, info) in zip(judges, judged, strict=True):
            c.calls[f"judge:{m}"] = info
        losses = dict(zip(scorers, nlls, strict=True))
        rubric = None
        if a.weights.get("rubric"):
            c.reviews = await self.reviews(c, start)
            overall = [r.overall for r in c.reviews if r.overall is not None]
            rubric = sum(overall) / len(overall) if overall else None
        p_yes = {m: p for m, (p, _) in zip(judges, judged, strict=True)}
        x = verdict.signals(c.instruction, c.response, p_yes, rubric, losses)
        p = round(verdict.p_good(x, a.weights, a.bias), 4)
        keep = p >= a.accept_p
        reason = f"p(good) {p:.2f} {'>=' if keep else '<'} {a.accept_p}"
        n_ok = sum(r.ok for r in c.reviews)
        c.aggregate = Aggregate(
            rubric, None, n_ok, len(c.reviews) - n_ok, "accept" if keep else "reject",
            reason, p_good=p, signals=x,
        )  # fmt: skip
        return keep, reason

    async def code_tests(self, c: Candidate) -> str | None:
        """``review.code_tester``'s asserts for the response's Python functions, run in the
        sandbox: the reason to reject when one fails, else None (no code, no usable assert,
        or code that cannot be judged pass)."""
        code, names = write_tests.testable_code(c.instruction, c.input, c.response)
        if not names:
            return None
        name = self.cfg.review.code_tester
        req = write_tests.build(c.instruction, c.input, names,
                                seed=derive_seed(self.cfg.seed, c.idx, "tests"))  # fmt: skip
        reply, c.calls["tests"] = await self.call(name, "tests", write_tests.PROMPT.id, req)
        asserts = write_tests.parse(reply.text, names)
        results = await asyncio.to_thread(run_tests, code, asserts) if asserts else []
        failed = [a for a, r in zip(asserts, results, strict=True) if r == "fail"]
        if not failed:
            return None
        return f"code tests: {len(failed)} of {len(asserts)} failed: {failed[0]}"

    async def reviews(self, c: Candidate, start: int) -> list[Review]:
        r = self.cfg.review
        names = pick_reviewers(r.models, c.generator, r.reviewers, start)
        out: list[Review] = []
        for j, name in enumerate(names):
            if settled(out, self.cfg):
                break
            seed = derive_seed(self.cfg.seed, c.idx, "review", j)
            pair = (c.instruction, c.input, c.response)
            out.append(await ask_reviewer(self.call, name, r, pair, seed))
        return out

    async def adjudicate(self, c: Candidate) -> tuple[bool, str]:
        a = self.cfg.adjudication
        name = pick_adjudicator(a.models, c.generator)
        req = adjudicate.build(
            c.instruction,
            c.input,
            c.response,
            c.reviews,
            max_tokens=a.max_tokens,
            temperature=a.temperature,
            seed=derive_seed(self.cfg.seed, c.idx, "adjudicate"),
            logprobs=self.cfg.review.logprobs,
        )
        reply, info = await self.call(name, "adjudicate", adjudicate.PROMPT.id, req)
        c.adjudication = adjudicate.parse(name, reply.text, reply.extra.get("logprobs"))
        c.adjudication.call = info
        verdict = "keep" if c.adjudication.keep else "drop"
        return c.adjudication.keep, f"adjudicator: {verdict}: {c.adjudication.reason}"
