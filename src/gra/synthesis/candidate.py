"""One candidate of gra synth, start to end: plan -> tag -> generate -> cheap checks ->
near-duplicate pre-check -> review -> aggregate -> adjudicate (on disagreement).

``CandidateWork`` is the ``work`` of the executor seam (``gra.executors``): it holds only
the config, the seeds and a near-duplicate index to check against before review, so it can
be pickled to a Ray worker and run there. Every random choice for candidate ``idx`` comes
from a generator seeded by (run seed, idx), and every model call goes through the caller
(store-first), so re-running an unfinished candidate replays its completed calls. What is
global -- acceptance, the target, the final near-duplicate check, the store -- belongs to
the driver (``gra.synthesis.pipeline.Synth``).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass

from gra.checks import CheckSettings, run_checks
from gra.config import Config
from gra.core.calls import CallFailed
from gra.core.records import Candidate, Outcome, Seed
from gra.council.caller import CALL_OWNER, BudgetExhausted, Caller
from gra.council.council import Council, council_score
from gra.council.steps import generate, tag
from gra.council.steps.common import ParseError, derive_seed
from gra.curate.minhash import NearDupIndex
from gra.io.seeds import seed_domains
from gra.synthesis import preference
from gra.synthesis.routing import candidate_tokens


@dataclass(frozen=True)
class Planned:
    """An item of the synth's map: candidate ``idx``, and its generator when the driver
    picked it (``generation.pick: adaptive``; else the plan picks it from the run seed)."""

    idx: int
    generator: str = ""


def dedup_text(cfg: Config, instruction: str, response: str) -> str:
    """The text near-duplicates are found on (``dedup.field``; the prompt alone for
    ``task: preference``, whose responses are meant to differ)."""
    if cfg.dedup.field == "instruction" or cfg.task == "preference":
        return instruction
    return f"{instruction}\n{response}"


def new_index(cfg: Config, seeds: list[Seed]) -> NearDupIndex:
    """A near-duplicate index holding the seeds."""
    d = cfg.dedup
    index = NearDupIndex(d.threshold, num_perm=d.num_perm, ngram=d.ngram)
    for s in seeds:
        index.check_and_add(f"seed:{s.id}", dedup_text(cfg, s.instruction, s.response))
    return index


class CandidateWork:
    """``await work(caller, idx)``: candidate ``idx`` as far as it goes (None when the
    token budget ran out under it). ``index``: what a candidate is checked against before
    review (the driver's own index when it runs here, a copy taken at the start on a
    remote worker); the final check is the driver's."""

    def __init__(self, cfg: Config, seeds: list[Seed], index: NearDupIndex):
        self.cfg = cfg
        self.seeds = seeds
        self.by_domain = seed_domains(seeds)
        self.domains = list(self.by_domain)
        self.index = index
        self.check_settings = CheckSettings(disabled=frozenset(cfg.checks.disabled))
        self.call: Caller | None = None
        self.council: Council | None = None
        self._tags: dict[str, asyncio.Future] = {}

    def __getstate__(self) -> dict:
        # what a worker needs; the caller, council and tag tasks are the worker's own
        return {"cfg": self.cfg, "seeds": self.seeds, "index": self.index}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cfg"], state["seeds"], state["index"])

    def bind(self, caller: Caller) -> CandidateWork:
        """Make model calls through ``caller`` from now on."""
        if self.call is not caller:
            if self.council is not None:
                self.council.close()
            self.call, self.council = caller, Council(self.cfg, caller)
        return self

    async def __call__(self, caller: Caller, item: Planned) -> Candidate | None:
        try:
            return await self.bind(caller).candidate(item.idx, item.generator)
        except BudgetExhausted:
            return None

    def close(self) -> None:
        """Free the council's resources; cancel shared tag tasks (their replies are stored)."""
        if self.council is not None:
            self.council.close()

    async def cancel_tags(self) -> None:
        """Collect shared tag tasks whose waiters are gone (their errors were reported)."""
        for fut in self._tags.values():
            fut.cancel()
        await asyncio.gather(*self._tags.values(), return_exceptions=True)
        self._tags.clear()  # tasks belong to this event loop; the store keeps the replies

    # steps -----------------------------------------------------------------
    async def tags(self, item_id: str, item: dict) -> tuple[list[str], str]:
        """Keywords and summary for a seed or sample; one call per item per run."""
        fut = self._tags.get(item_id)
        if fut is None or (fut.done() and (fut.cancelled() or fut.exception() is not None)):
            fut = self._tags[item_id] = asyncio.ensure_future(self._tag(item_id, item))
        # shielded: one candidate being cancelled must not cancel a tag others wait for
        return await asyncio.shield(fut)

    async def _tag(self, item_id: str, item: dict) -> tuple[list[str], str]:
        CALL_OWNER.set(f"tag:{item_id}")  # this task's own context: shared by every waiter
        t = self.cfg.tagging
        req = tag.build(item, max_tokens=t.max_tokens, seed=derive_seed(self.cfg.seed, item_id))
        reply, _ = await self.call(t.model, "tag", tag.PROMPT.id, req)
        try:
            return tag.parse(reply.text)
        except ParseError:  # counted from the store (tag_failures)
            return [], ""

    async def candidate(self, idx: int, generator: str = "") -> Candidate:
        """Plan candidate ``idx`` (``generator``: picked already) and take it as far as it
        goes; never raises CallFailed."""
        c, examples, rng = self.plan(idx, generator)
        owner = CALL_OWNER.set(f"candidate:{idx}")
        try:
            return await self._work(c, examples, rng)
        except CallFailed as e:
            return end(c, "failed", f"model call failed: {e}", code=("model_call", "call_failed"))
        finally:
            CALL_OWNER.reset(owner)

    async def draft(self, idx: int) -> tuple[Candidate, str]:
        """Candidate ``idx`` as its generator writes it -- no check, review or dedup --
        and the response's finish reason ("" when it was not written). The same calls,
        seeds and prompts as ``candidate``: for measuring the raw pool."""
        c, examples, rng = self.plan(idx)
        owner = CALL_OWNER.set(f"candidate:{idx}")
        try:
            return await self._generate(c, examples)
        except CallFailed as e:
            return end(
                c, "failed", f"model call failed: {e}", code=("model_call", "call_failed")
            ), ""
        finally:
            CALL_OWNER.reset(owner)

    def call_owners(self, item: Planned) -> list[str]:
        """Whose stored calls a candidate may replay: its own, and the tags of its example
        seeds and of itself (``Store.calls_of``)."""
        c, _, _ = self.plan(item.idx, item.generator)
        return [f"candidate:{c.idx}", *(f"tag:seed:{s}" for s in c.seed_ids), f"tag:{c.id}"]

    def domain_of(self, idx: int) -> str:
        """Candidate ``idx``'s domain (as ``plan`` gives it)."""
        return self.plan(idx)[0].domain

    def plan(self, idx: int, generator: str = "") -> tuple[Candidate, list[Seed], random.Random]:
        """Domain, generator and example seeds of candidate ``idx`` (from the run seed;
        ``generator``, when given, replaces the pick -- the draws stay the same)."""
        cfg, g = self.cfg, self.cfg.generation
        rng = random.Random(derive_seed(cfg.seed, idx, "plan"))
        domain = (
            self.domains[idx % len(self.domains)]
            if g.domains == "round_robin"
            else rng.choice(self.domains)
        )
        drawn = g.models[idx % len(g.models)] if g.pick == "round_robin" else rng.choice(g.models)
        generator = generator or drawn
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

    async def _generate(
        self, c: Candidate, examples: list[Seed], respond: bool = True
    ) -> tuple[Candidate, str]:
        """Write the instruction (``evolve``: from the first example seed; ``paper``: from
        all of them, tagged first), then (``respond``) its response by ``cfg.responder``."""
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
            c.timings["generate_s"] = round(time.perf_counter() - t0, 3)
            return end(c, "failed", why, code=("generate", "unreadable_reply")), ""
        if not respond:
            return c, ""
        reply, c.calls["response"] = await self._respond(
            c, cfg.responder(generator), g.temperature, 0
        )
        c.response = reply.text.strip()
        c.timings["generate_s"] = round(time.perf_counter() - t0, 3)
        return c, reply.finish_reason

    async def _respond(self, c: Candidate, model: str, temperature: float, i: int):
        """Response ``i`` to ``c``'s instruction by ``model`` (each its own seed; the first
        the one an sft run asks for)."""
        tag = ("response",) if i == 0 else ("response", i)
        req = generate.build_response(
            c.instruction,
            c.input,
            max_tokens=self.cfg.generation.response_max_tokens,
            temperature=temperature,
            seed=derive_seed(self.cfg.seed, c.idx, *tag),
        )
        return await self.call(model, "generate", generate.RESPONSE_PROMPT.id, req)

    async def _work(self, c: Candidate, examples: list[Seed], rng: random.Random) -> Candidate:
        if self.cfg.task == "preference":
            return await self._preference(c, examples, rng)
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
            return end(c, "rejected", why, code=("checks", first.name))
        dup = self.index.query(dedup_text(self.cfg, c.instruction, c.response))
        if dup:
            return duplicate(c, dup)

        keep, reason = await self.council.judge(c, rng.randrange(1 << 16))
        if not keep:
            return end(c, "rejected", reason)
        # the final near-duplicate check is the driver's (Synth._finished)
        if self.cfg.tagging.tag_outputs:
            item = {"instruction": c.instruction, "input": c.input, "response": c.response}
            c.keywords, c.summary = await self.tags(c.id, item)
        return end(c, "accepted", reason)

    async def _preference(
        self, c: Candidate, examples: list[Seed], rng: random.Random
    ) -> Candidate:
        """task: preference -- k responses, each checked and scored; a pair or a reason
        why not (gra.synthesis.preference)."""
        c, _ = await self._generate(c, examples, respond=False)
        if c.state != "running":
            return c
        dup = self.index.query(dedup_text(self.cfg, c.instruction, c.response))
        if dup:
            return duplicate(c, dup)
        plan = preference.responders(self.cfg, c.generator)
        starts = [rng.randrange(1 << 16) for _ in plan]
        t0 = time.perf_counter()
        done = await asyncio.gather(
            *(self._score(c, i, m, t, starts[i]) for i, (m, t) in enumerate(plan))
        )
        c.timings["responses_s"] = round(time.perf_counter() - t0, 3)
        responses = [r for r, _ in done]
        picked = preference.pair(responses, self.cfg.preference.min_margin)
        c.preference = {"responses": [asdict(r) for r in responses]}
        if isinstance(picked, str):
            code = "no_accepted" if picked.startswith("no ") else "small_margin"
            return end(c, "rejected", f"no pair: {picked}", code=("preference", code))
        chosen, rejected, margin = picked
        c.preference.update(chosen=chosen, rejected=rejected, margin=margin)
        judged = done[chosen][1]  # the chosen response's council record is the candidate's
        c.response, c.reviews = responses[chosen].text, judged.reviews
        c.aggregate, c.adjudication = judged.aggregate, judged.adjudication
        why = (
            f"pair: response {chosen + 1} ({responses[chosen].score:g}) over "
            f"{rejected + 1} ({responses[rejected].score:g}), margin {margin:g}"
        )
        return end(c, "accepted", why, code=("preference", "pair"))

    async def _score(
        self, c: Candidate, i: int, model: str, temperature: float, start: int
    ) -> tuple[preference.Response, Candidate]:
        """Response ``i``: written, checked, and judged by the council when it passes."""
        reply, info = await self._respond(c, model, temperature, i)
        r = preference.Response(model, temperature, reply.text.strip(), reply.finish_reason)
        r.call = asdict(info)
        r.tokens = info.prompt_tokens + info.completion_tokens
        judged = Candidate(c.idx, c.domain, model, c.seed_ids, c.instruction, c.input, r.text)
        problems = run_checks(
            c.instruction, c.input, r.text, finish_reason=reply.finish_reason,
            settings=self.check_settings,
        )  # fmt: skip
        if problems:
            r.check, r.score = problems[0].name, 0.0
            r.reason = f"cheap check: {problems[0].name} ({problems[0].detail})"
            return r, judged
        assert self.council is not None
        r.keep, r.reason = await self.council.judge(judged, start)
        r.score = council_score(judged, self.cfg)
        r.tokens += candidate_tokens(judged)
        r.aggregate = asdict(judged.aggregate) if judged.aggregate else None
        r.reviews = [
            {"reviewer": x.reviewer, "overall": x.overall, "ok": x.ok} for x in judged.reviews
        ]
        return r, judged


def end(c: Candidate, state: str, reason: str, code: tuple[str, str] | None = None) -> Candidate:
    """End ``c`` as ``state``; ``code`` (stage, code) is its outcome, unless the step that
    decided set ``c.outcome`` itself (the council)."""
    c.state, c.reason = state, reason
    if code is not None:
        c.outcome = Outcome(*code, reason)
    return c


def duplicate(c: Candidate, dup: tuple[str, float]) -> Candidate:
    """End ``c`` as a near-duplicate of ``dup`` (key, similarity)."""
    c.duplicate_of = dup[0]
    why = f"near-duplicate of {dup[0]} (jaccard {dup[1]:.2f})"
    return end(c, "duplicate", why, code=("dedup", "near_duplicate"))


def tag_failures(replies: list[str]) -> int:
    """Tag replies that could not be read (their items got no keywords)."""
    n = 0
    for text in replies:
        try:
            tag.parse(text)
        except ParseError:
            n += 1
    return n
