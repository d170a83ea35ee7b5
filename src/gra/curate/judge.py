"""Judge scores for an existing dataset (AlpaGasus-style filtering).

A sample's judge score is either read from the data (``score`` as ``gra review``
writes it, or ``provenance.aggregate.mean``, the council mean in ``gra synth``
output, or any field named with a dotted path), or made by asking configured
reviewers: each scores the six dimensions 1-10 with the review prompt of
``gra synth``, and the score is the mean of their overall scores (each dimension the
expectation over the score tokens where the backend gives logprobs, see
``gra.council.steps.review``).

Reviewer calls go through the same store-first caller as ``gra synth``: a call
made once (same model, prompt and sampling seed) is answered from the store the
next time, so re-selecting with another threshold costs no model time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gra.config import Config
from gra.core.calls import CallFailed
from gra.core.errors import UserError
from gra.core.records import Review
from gra.core.store import Store
from gra.council.caller import CALL_OWNER, Caller
from gra.council.council import ask_reviewer
from gra.council.steps.common import derive_seed
from gra.executors.choose import OnRay, open_executor
from gra.io.datasets import Sample

__all__ = ["AUTO_FIELDS", "JudgeScore", "read_score", "review_scores"]

#: Where a score is looked for when no field is named, in order.
AUTO_FIELDS = ("score", "provenance.aggregate.mean")


@dataclass
class JudgeScore:
    score: float | None
    source: str  # the field it was read from, or "reviewers"
    reviews: list[dict[str, Any]] = field(default_factory=list)
    skip: str = ""


def _dig(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def read_score(sample: Sample, path: str | None = None) -> JudgeScore:
    """The score stored in the sample's record (``path``, or the first of
    ``AUTO_FIELDS`` present); a clear skip reason when there is none."""
    paths = [path] if path else list(AUTO_FIELDS)
    for p in paths:
        value = _dig(sample.record, p)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise UserError(f"score field {p!r} is {value!r}, not a number", sample.where)
        return JudgeScore(float(value), p)
    return JudgeScore(None, "", skip=f"no score field ({' or '.join(paths)})")


class JudgeWork:
    """One sample's reviews by every judge (the executor seam's work): picklable, its
    calls stored as ``sample:ID``'s."""

    def __init__(self, cfg: Config, models: list[str]):
        self.cfg, self.models = cfg, models

    def call_owners(self, item: tuple[int, Sample]) -> list[str]:
        return [f"sample:{item[1].id}"]

    async def __call__(self, caller: Caller, item: tuple[int, Sample]) -> JudgeScore:
        _, s = item
        owner = CALL_OWNER.set(f"sample:{s.id}")
        try:
            reviews = await asyncio.gather(*(self._ask(caller, s, m) for m in self.models))
        finally:
            CALL_OWNER.reset(owner)
        overall = [x.overall for x in reviews if x.overall is not None]
        detail = [
            {"reviewer": x.reviewer, "scores": x.scores, "overall": x.overall, "error": x.error}
            for x in reviews
        ]
        if not overall:
            return JudgeScore(None, "reviewers", detail, skip="no readable review")
        return JudgeScore(round(sum(overall) / len(overall), 4), "reviewers", detail)

    async def _ask(self, caller: Caller, s: Sample, model: str) -> Review:
        seed = derive_seed(self.cfg.seed, "select", s.id, model)
        pair = (s.instruction, s.input, s.response)
        try:
            return await ask_reviewer(caller, model, self.cfg.review, pair, seed)
        except CallFailed as e:  # this review only; a model that stays down stops all
            return Review(reviewer=model, ok=False, error=f"call failed: {e}")


def review_scores(
    samples: Sequence[Sample],
    cfg: Config,
    models: list[str],
    store_path: Path,
    on_done: Callable[[int], None] | None = None,
    ray: OnRay | None = None,
) -> list[JudgeScore]:
    """Ask each of ``models`` (names in ``cfg.models`` or registry names) to review
    every sample; the score is the mean overall score of the readable reviews.
    ``ray``: on Ray actors (``gra.executors.choose``)."""
    hint = "or give this command its own --cache FILE"
    executor = open_executor(cfg, lambda: Store(store_path, busy_hint=hint), models=models, ray=ray)
    # auto settings measured on this machine (gra.models.cpu_probe)
    work = JudgeWork(executor.config, models)
    out: list[JudgeScore | None] = [None] * len(samples)

    def finished(item: tuple[int, Sample], score: JudgeScore) -> None:
        out[item[0]] = score
        if on_done:
            on_done(sum(x is not None for x in out))

    try:
        executor.map(
            work, list(enumerate(samples)), finished, executor.config.candidates_in_flight()
        )
    finally:
        executor.close()
        executor.caller.store.close()
    return [x for x in out if x is not None]
