"""gra synth: seeds -> tag -> generate -> cheap checks -> review -> aggregate
-> adjudicate (on disagreement) -> dedup. Writing happens in ``writer``.

Every random choice for candidate ``idx`` comes from a generator seeded by
(run seed, idx), and every model call is answered from the run store when it
was made before, so re-running an unfinished candidate after a crash replays
its completed calls and continues where it stopped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gra.checks import CheckSettings, run_checks
from gra.config import Config
from gra.core.calls import CallFailed
from gra.core.records import Candidate, Outcome, Seed
from gra.core.store import Store
from gra.council.caller import BudgetExhausted, Caller
from gra.council.council import Council
from gra.council.steps import generate, tag
from gra.council.steps.common import ParseError, derive_seed
from gra.curate.minhash import NearDupIndex
from gra.executors import Executor, LocalExecutor
from gra.io.seeds import seed_domains


@dataclass
class Budget:
    target: int  # accepted samples wanted
    max_candidates: int
    max_tokens: int  # 0 = unlimited


class Synth:
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
        # where candidates run (gra.executors); the local one over ``caller`` by default
        self.executor = executor or LocalExecutor.around(caller)
        self.council = Council(cfg, caller)
        self.on_candidate = on_candidate or (lambda c: None)
        self.by_domain = seed_domains(seeds)
        self.domains = list(self.by_domain)
        d = cfg.dedup
        self.index = NearDupIndex(d.threshold, num_perm=d.num_perm, ngram=d.ngram)
        for s in seeds:
            self.index.check_and_add(f"seed:{s.id}", self.dedup_text(s.instruction, s.response))
        for c in store.candidates("accepted"):
            self.index.check_and_add(c.id, self.dedup_text(c.instruction, c.response))
        self.check_settings = CheckSettings(disabled=frozenset(cfg.checks.disabled))
        self._tags: dict[str, asyncio.Future] = {}
        self.tag_failures = 0

    def dedup_text(self, instruction: str, response: str) -> str:
        if self.cfg.dedup.field == "instruction":
            return instruction
        return f"{instruction}\n{response}"

    # steps -----------------------------------------------------------------
    async def tags(self, item_id: str, item: dict) -> tuple[list[str], str]:
        """Keywords and summary for a seed or sample; one call per item per run."""
        fut = self._tags.get(item_id)
        if fut is None or (fut.done() and (fut.cancelled() or fut.exception() is not None)):
            fut = self._tags[item_id] = asyncio.ensure_future(self._tag(item_id, item))
        # shielded: one candidate being cancelled must not cancel a tag others wait for
        return await asyncio.shield(fut)

    async def _tag(self, item_id: str, item: dict) -> tuple[list[str], str]:
        t = self.cfg.tagging
        req = tag.build(item, max_tokens=t.max_tokens, seed=derive_seed(self.cfg.seed, item_id))
        reply, _ = await self.call(t.model, "tag", tag.PROMPT.id, req)
        try:
            return tag.parse(reply.text)
        except ParseError:
            self.tag_failures += 1
            return [], ""

    async def candidate(self, idx: int) -> Candidate:
        """Plan candidate ``idx`` and take it as far as it goes; never raises CallFailed."""
        c, examples, rng = self.plan(idx)
        try:
            return await self._work(c, examples, rng)
        except CallFailed as e:
            return self._end(
                c, "failed", f"model call failed: {e}", code=("model_call", "call_failed")
            )

    async def draft(self, idx: int) -> tuple[Candidate, str]:
        """Candidate ``idx`` as its generator writes it -- no check, review or dedup --
        and the response's finish reason ("" when it was not written). The same calls,
        seeds and prompts as ``candidate``: for measuring the raw pool."""
        c, examples, rng = self.plan(idx)
        try:
            return await self._generate(c, examples)
        except CallFailed as e:
            return self._end(
                c, "failed", f"model call failed: {e}", code=("model_call", "call_failed")
            ), ""

    def plan(self, idx: int) -> tuple[Candidate, list[Seed], random.Random]:
        """Domain, generator and example seeds of candidate ``idx`` (from the run seed)."""
        cfg, g = self.cfg, self.cfg.generation
        rng = random.Random(derive_seed(cfg.seed, idx, "plan"))
        domain = (
            self.domains[idx % len(self.domains)]
            if g.domains == "round_robin"
            else rng.choice(self.domains)
        )
        generator = (
            g.models[idx % len(g.models)] if g.pick == "round_robin" else rng.choice(g.models)
        )
        pool = self.by_domain[domain]
        examples = rng.sample(pool, min(g.examples, len(pool)))
        c = Candidate(
            idx=idx,
            domain=domain,
            generator=generator,
            seed_ids=[s.id for s in examples],
            state="running",
        )
        return c, examples, rng

    async def _generate(self, c: Candidate, examples: list[Seed]) -> tuple[Candidate, str]:
        """Write the instruction (``evolve``: from the first example seed; ``paper``: from
        all of them, tagged first), then its response by ``cfg.responder``."""
        cfg, g, idx, domain, generator = self.cfg, self.cfg.generation, c.idx, c.domain, c.generator
        if g.mode == "evolve":
            c.seed_ids = c.seed_ids[:1]
            change_rng = random.Random(derive_seed(cfg.seed, idx, "change"))
            prompt = generate.EVOLVE_PROMPT
            req = generate.build_evolved(
                examples[0].instruction,
                change_rng.choice(generate.CHANGES),
                max_tokens=g.instruction_max_tokens,
                temperature=g.temperature,
                seed=derive_seed(cfg.seed, idx, "instruction"),
            )
        else:
            t0 = time.perf_counter()
            for s, (kw, summary) in zip(
                examples,
                await asyncio.gather(*(self.tags(f"seed:{s.id}", s.to_dict()) for s in examples)),
                strict=True,
            ):
                s.keywords, s.summary = kw, summary
            c.timings["tag_s"] = round(time.perf_counter() - t0, 3)
            prompt = generate.INSTRUCTION_PROMPT
            req = generate.build_instruction(
                domain,
                examples,
                max_tokens=g.instruction_max_tokens,
                temperature=g.temperature,
                seed=derive_seed(cfg.seed, idx, "instruction"),
            )
        t0 = time.perf_counter()
        reply, c.calls["instruction"] = await self.call(generator, "generate", prompt.id, req)
        try:
            c.instruction = generate.parse_instruction(reply.text)
        except ParseError as e:
            why = f"generator reply unreadable: {e}"
            return self._end(c, "failed", why, t0, code=("generate", "unreadable_reply")), ""
        req = generate.build_response(
            c.instruction,
            c.input,
            max_tokens=g.response_max_tokens,
            temperature=g.temperature,
            seed=derive_seed(cfg.seed, idx, "response"),
        )
        reply, c.calls["response"] = await self.call(
            cfg.responder(generator), "generate", generate.RESPONSE_PROMPT.id, req
        )
        c.response = reply.text.strip()
        c.timings["generate_s"] = round(time.perf_counter() - t0, 3)
        return c, reply.finish_reason

    async def _work(self, c: Candidate, examples: list[Seed], rng: random.Random) -> Candidate:
        c, finish_reason = await self._generate(c, examples)
        if c.state != "running":
            return c
        problems = run_checks(
            c.instruction,
            c.input,
            c.response,
            finish_reason=finish_reason,
            settings=self.check_settings,
        )
        if problems:
            first = problems[0]
            why = f"cheap check: {first.name} ({first.detail})"
            return self._end(c, "rejected", why, code=("checks", first.name))
        dup = self.index.query(self.dedup_text(c.instruction, c.response))
        if dup:
            return self._dup(c, dup)

        keep, reason = await self.council.judge(c, rng.randrange(1 << 16))
        if not keep:
            return self._end(c, "rejected", reason)

        dup = self.index.check_and_add(c.id, self.dedup_text(c.instruction, c.response))
        if dup:
            return self._dup(c, dup)
        if self.cfg.tagging.tag_outputs:
            item = {"instruction": c.instruction, "input": c.input, "response": c.response}
            c.keywords, c.summary = await self.tags(c.id, item)
        return self._end(c, "accepted", reason)

    @staticmethod
    def _end(
        c: Candidate,
        state: str,
        reason: str,
        t0: float | None = None,
        code: tuple[str, str] | None = None,
    ) -> Candidate:
        """End ``c`` as ``state``; ``code`` (stage, code) is its outcome, unless the step
        that decided set ``c.outcome`` itself (the council)."""
        if t0 is not None:
            c.timings["generate_s"] = round(time.perf_counter() - t0, 3)
        c.state, c.reason = state, reason
        if code is not None:
            c.outcome = Outcome(*code, reason)
        return c

    def _dup(self, c: Candidate, dup: tuple[str, float]) -> Candidate:
        c.duplicate_of = dup[0]
        why = f"near-duplicate of {dup[0]} (jaccard {dup[1]:.2f})"
        return self._end(c, "duplicate", why, code=("dedup", "near_duplicate"))

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
                self._attempt, self._indices(budget, sum(counts.values())), self._finished,
                self.cfg.candidates_in_flight(),
            )  # fmt: skip
            if (self._stop or "").startswith("target reached"):
                self._cancel_unfinished()
        finally:
            # collect shared tag tasks whose waiters are gone (their errors are reported above)
            for fut in self._tags.values():
                fut.cancel()
            await asyncio.gather(*self._tags.values(), return_exceptions=True)
            self._tags.clear()  # tasks belong to this event loop; the store keeps the replies
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

    def _indices(self, budget: Budget, launched: int) -> Iterator[int]:
        """The candidates to run, pulled one per free slot: unfinished ones first, then new
        ones until the target or a budget is reached (then ``_stop`` says which)."""
        pending = sorted(
            c.idx for state in ("running", "cancelled") for c in self.store.candidates(state)
        )
        existing = self.store.candidates()
        next_idx = (existing[-1].idx + 1) if existing else 0
        while True:
            if self._accepted >= budget.target:
                self._stop = f"target reached ({budget.target} accepted)"
                return
            if pending:
                yield pending.pop(0)
            elif launched >= budget.max_candidates:
                self._stop = f"max candidates reached ({budget.max_candidates})"
                return
            elif budget.max_tokens and self.call.tokens_used >= budget.max_tokens:
                self._stop = f"max tokens reached ({budget.max_tokens})"
                return
            else:
                idx, next_idx, launched = next_idx, next_idx + 1, launched + 1
                self.store.save_candidate(Candidate(idx, "", "", [], state="running"))
                yield idx

    async def _attempt(self, caller: Caller, idx: int) -> Candidate | None:
        """The work of one candidate; None when the token budget ran out under it (it stays
        unfinished: a larger budget resumes it)."""
        try:
            return await self.candidate(idx)
        except BudgetExhausted:
            return None

    def _finished(self, idx: int, c: Candidate | None) -> bool:
        """Store a finished candidate; True (stop) at the target or the token budget."""
        target = self._budget.target
        if c is None:
            self._stop = f"max tokens reached ({self._budget.max_tokens})"
            return True
        if c.state == "accepted":
            if self._accepted >= target:
                c.state = "surplus"
            else:
                self._accepted += 1
        self.store.save_candidate(c)
        self.on_candidate(c)
        if self._accepted >= target:
            self._stop = f"target reached ({target} accepted)"
            return True
        return False
