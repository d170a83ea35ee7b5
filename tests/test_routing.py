"""generation.pick: adaptive (gra.synthesis.routing): warm-up, the bandit's preference for
what earns accepted samples per token, determinism, and resume replaying the picks."""

from __future__ import annotations

import asyncio
import random

from gra.config import load_config
from gra.core.calls import ChatResponse
from gra.core.records import CallInfo, Candidate
from gra.core.store import Store
from gra.council.caller import Caller
from gra.council.pool import ModelPool
from gra.synthesis.pipeline import Budget, Synth
from gra.synthesis.routing import Router, candidate_tokens, routing_table
from tests.fakes import FakeBackend
from tests.test_pipeline import SEEDS


def _done(domain: str, model: str, accepted: bool, tokens: int, idx: int = 0) -> Candidate:
    c = Candidate(idx, domain, model, [], state="accepted" if accepted else "rejected")
    c.calls["instruction"] = CallInfo(model, "p", "k", tokens, 0, 0.0, False)
    return c


def test_each_model_is_warmed_up_before_the_bandit_decides():
    r = Router(["a", "b", "c"], seed=1, warmup=2)
    picks = [r.pick(i, "math")[0] for i in range(6)]
    assert sorted(picks) == ["a", "a", "b", "b", "c", "c"]
    assert r.pick(6, "math")[1]["phase"] == "bandit"
    # another domain: 2 picks in math count as 1 here, so one more pick of each model
    code = [r.pick(10 + i, "code") for i in range(3)]
    assert sorted(m for m, _ in code) == ["a", "b", "c"]
    assert all(why == {"phase": "warmup"} for _, why in code)
    assert r.pick(13, "code")[1]["phase"] == "bandit"


def test_warm_up_evidence_pools_the_domains_as_the_bandit_does():
    # 6 domains in turn, warmup 2: a model's picks elsewhere count half, so warm-up ends
    # after about 4 picks of each model in all, not 2 in every domain (12 each)
    r = Router(["a", "b", "c"], seed=2, warmup=2)
    domains = [f"d{i % 6}" for i in range(60)]
    phases = [r.pick(i, d)[1]["phase"] for i, d in enumerate(domains)]
    warm = phases.count("warmup")
    assert 9 <= warm <= 15, warm
    assert "warmup" not in phases[warm + 6 :]  # the odd late one: a domain not yet seen
    for d in set(domains):
        assert all(r._picks(d, m) >= 2 for m in "abc")


def _simulate(router: Router, n: int, accept: dict[str, float], cost: dict[str, int], seed=0):
    rng = random.Random(seed)
    picks = []
    for i in range(n):
        model, _ = router.pick(i, "d")
        picks.append(model)
        router.finished(_done("d", model, rng.random() < accept[model], cost[model], i))
    return picks


def test_the_bandit_leaves_a_generator_that_earns_nothing():
    accept = {"good": 0.5, "cheap_bad": 0.0, "ok": 0.2}
    cost = {"good": 1000, "cheap_bad": 200, "ok": 1000}
    picks = _simulate(Router(list(accept), seed=3, warmup=3), 300, accept, cost)
    after = picks[9:]
    assert after.count("cheap_bad") / len(after) < 0.1
    assert after.count("good") > after.count("ok") > 0
    assert picks[-100:].count("good") > 80


def test_picks_depend_on_the_seed_and_the_outcomes_not_their_order():
    # two equally good models: the draws decide, so the seed shows
    outcomes = [_done("d", m, i % 4 < 2, 500, i) for i, m in enumerate("abab" * 3)]
    one, two, other = (Router(["a", "b"], seed=s) for s in (5, 5, 6))
    one.load(outcomes)
    two.load(list(reversed(outcomes)))
    other.load(outcomes)
    picks = [one.pick(i, "d") for i in range(20, 60)]
    assert picks == [two.pick(i, "d") for i in range(20, 60)]
    assert {m for m, _ in picks} == {"a", "b"}
    assert [m for m, _ in picks] != [other.pick(i, "d")[0] for i in range(20, 60)]


def test_candidate_tokens_count_every_call():
    c = _done("d", "a", True, 100)
    c.calls["response"] = CallInfo("a", "p", "k2", 30, 70, 0.0, True)
    assert candidate_tokens(c) == 200


class BadAtChat(FakeBackend):
    """A generator whose instructions cannot be read (a base model's rambling)."""

    async def chat(self, req):
        if req.json_schema and '"instruction"' in req.json_schema:
            return ChatResponse("Once upon a time", "stop", prompt_tokens=60, completion_tokens=40,
                                latency_s=0.0)  # fmt: skip
        return await super().chat(req)


GOOD, BAD = "qwen2.5-coder-0.5b", "smollm2-135m"  # names only: the loader makes fakes


def _loader(settings):
    cls = BadAtChat if settings.source == BAD else FakeBackend
    return cls(f"fake:{settings.source}", score=lambda r: 9)


def _synth(tmp_path, name: str):
    cfg = load_config(data={
        "generation": {"models": [GOOD, BAD], "pick": "adaptive", "warmup": 2},
        "review": {"models": [GOOD], "sure_margin": -1.0},
        "adjudication": {"models": [GOOD]},
        "tagging": {"model": GOOD},
        "aggregate": {"rule": "mean_std", "accept_mean": 7.0, "reject_mean": 5.0},
        "executor": {"concurrency": 1},  # one at a time: each pick sees every outcome before it
        "dedup": {"threshold": 1.0},
    })  # fmt: skip
    store = Store(tmp_path / f"{name}.sqlite")
    return Synth(cfg, SEEDS, store, Caller(ModelPool(cfg, loader=_loader), store)), store


def test_an_adaptive_run_records_its_picks_and_a_resumed_run_makes_the_same(tmp_path):
    whole, store = _synth(tmp_path, "whole")
    asyncio.run(whole.run(Budget(10**6, 40, 0)))
    picks = {c.idx: c.generator for c in store.candidates()}
    routes = {c.idx: c.routing for c in store.candidates()}
    assert len(picks) == 40 and all(routes[i]["phase"] in ("warmup", "bandit") for i in picks)
    bandit = [i for i in picks if routes[i]["phase"] == "bandit"]
    assert bandit and "posterior" in routes[bandit[0]]
    assert sum(picks[i] == BAD for i in bandit) / len(bandit) < 0.2
    table = routing_table(store.candidates())
    assert sum(r["picks"] for m in table["by_domain"].values() for r in m.values()) == 40
    assert table["over_time"][-1]["picks"].get(BAD, 0) < table["over_time"][0]["picks"][BAD]

    # the same run stopped after 15 candidates and resumed: the same picks
    half, store2 = _synth(tmp_path, "half")
    asyncio.run(half.run(Budget(10**6, 15, 0)))
    again, _ = _synth(tmp_path, "half")
    asyncio.run(again.run(Budget(10**6, 40, 0)))
    assert {c.idx: c.generator for c in store2.candidates()} == picks
