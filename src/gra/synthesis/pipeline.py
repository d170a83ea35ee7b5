"""gra synth's driver: which candidate runs next, acceptance, the target, the final
near-duplicate check and the store. The candidates themselves run in an executor
(``gra.executors``) as ``CandidateWork`` (``gra.synthesis.candidate``); writing the run's
files happens in ``writer``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gra.config import Config
from gra.core.records import Candidate, Outcome, Seed
from gra.core.store import Store
from gra.council.caller import Caller
from gra.executors import Executor, LocalExecutor
from gra.synthesis.candidate import (
    CandidateWork,
    Planned,
    dedup_text,
    duplicate,
    new_index,
    tag_failures,
)
from gra.synthesis.routing import Router


@dataclass
class Budget:
    target: int  # accepted samples wanted
    max_candidates: int
    max_tokens: int  # 0 = unlimited


class Synth:
    """The driver of one run. ``work`` (a ``CandidateWork``) runs the candidates through
    ``executor`` (the local one over ``caller`` by default); here it is bound to
    ``caller`` too, so ``synth.candidate(idx)`` and ``synth.draft(idx)`` run one in place."""

    def __init__(
        self,
        cfg: Config,
        seeds: list[Seed],
        store: Store,
        caller: Caller,
        on_candidate: Callable[[Candidate], None] | None = None,
        executor: Executor | None = None,
    ):
        self.cfg = cfg
        self.store = store
        self.call = caller
        self.executor = executor or LocalExecutor.around(caller)
        self.on_candidate = on_candidate or (lambda c: None)
        self.index = new_index(cfg, seeds)
        for c in store.candidates("accepted"):
            self.index.check_and_add(c.id, dedup_text(cfg, c.instruction, c.response))
        # a worker here shares this index; one elsewhere gets a copy of it as it is now
        self.work = CandidateWork(cfg, seeds, self.index).bind(caller)
        self.council = self.work.council
        self.candidate, self.draft, self.plan = self.work.candidate, self.work.draft, self.work.plan
        g = cfg.generation
        self.router = Router(g.models, cfg.seed, g.warmup) if g.pick == "adaptive" else None
        self._routing: dict[int, dict] = {}  # idx -> why its generator was picked
        if self.router is not None:
            self.router.load(store.candidates())

    @property
    def tag_failures(self) -> int:
        """Tag replies in the run store that could not be read."""
        return tag_failures(self.store.replies("tag"))

    # the loop --------------------------------------------------------------
    async def run(self, budget: Budget) -> str:
        """Run until the target or a budget is reached; returns the stop reason.

        The driver's side of the executor seam (gra.executors): ``_indices`` says which
        candidate runs next, ``_finished`` owns acceptance, the store and the stop."""
        self.call.max_tokens = budget.max_tokens
        self._budget, self._stop = budget, None
        counts = self.store.state_counts()
        self._accepted = counts.get("accepted", 0)
        try:
            await self.executor.amap(
                self.work, self._indices(budget, sum(counts.values())), self._finished,
                self.cfg.candidates_in_flight(),
            )  # fmt: skip
            if (self._stop or "").startswith("target reached"):
                self._cancel_unfinished()
        finally:
            await self.work.cancel_tags()
        return self._stop or "nothing to do"

    def _cancel_unfinished(self) -> None:
        """At the target, the candidates still in flight are not needed: they end as
        ``cancelled`` (their stored calls kept, so a later ``--resume --n`` larger runs
        them first); ``running`` is left for runs that really stopped early."""
        why = (
            "cancelled when the target was reached; its stored calls are kept for a later "
            "gra synth --resume --n larger"
        )
        for c in self.store.candidates("running"):
            c.state, c.reason = "cancelled", why
            c.outcome = Outcome("synthesis", "cancelled_at_target", why)
            self.store.save_candidate(c)

    def _indices(self, budget: Budget, launched: int) -> Iterator[Planned]:
        """The candidates to run, pulled one per free slot: unfinished ones first, then new
        ones until the target or a budget is reached (then ``_stop`` says which)."""
        unfinished = [c for state in ("running", "cancelled") for c in self.store.candidates(state)]
        pending = sorted(unfinished, key=lambda c: c.idx)
        self._routing.update({c.idx: c.routing for c in pending if c.routing})
        existing = self.store.candidates()
        next_idx = (existing[-1].idx + 1) if existing else 0
        while True:
            if self._accepted >= budget.target:
                self._stop = f"target reached ({budget.target} accepted)"
                return
            if pending:
                c = pending.pop(0)
                yield Planned(c.idx, c.generator if c.routing else "")
            elif launched >= budget.max_candidates:
                self._stop = f"max candidates reached ({budget.max_candidates})"
                return
            elif budget.max_tokens and self.call.tokens_used >= budget.max_tokens:
                self._stop = f"max tokens reached ({budget.max_tokens})"
                return
            else:
                idx, next_idx, launched = next_idx, next_idx + 1, launched + 1
                yield self._launch(idx)

    def _launch(self, idx: int) -> Planned:
        """Record candidate ``idx`` as running (with its generator and why, when the router
        picks it: a resumed run takes it up with the same pick)."""
        c = Candidate(idx, "", "", [], state="running")
        if self.router is not None:
            c.domain = self.work.domain_of(idx)
            c.generator, c.routing = self.router.pick(idx, c.domain)
            self._routing[idx] = c.routing
        self.store.save_candidate(c)
        return Planned(idx, c.generator)

    def _finished(self, item: Planned, c: Candidate | None) -> bool:
        """Store a finished candidate; True (stop) at the target or the token budget."""
        target = self._budget.target
        if c is None:
            self._stop = f"max tokens reached ({self._budget.max_tokens})"
            return True
        if c.state == "accepted":
            text = dedup_text(self.cfg, c.instruction, c.response)
            dup = self.index.query(text)
            if dup:
                duplicate(c, dup)
            elif self._accepted >= target:
                c.state = "surplus"
            else:
                self._accepted += 1
                self.index.add(c.id, text)
        if self.router is not None:
            c.routing = self._routing.pop(item.idx, None)
            self.router.finished(c)
        self.store.save_candidate(c)
        self.on_candidate(c)
        if self._accepted >= target:
            self._stop = f"target reached ({target} accepted)"
            return True
        return False
