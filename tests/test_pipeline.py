"""The synth loop on a scripted backend: roles, stopping rules, resume, dedup."""

from __future__ import annotations

import asyncio
import json

import pytest

from gra.config import load_config
from gra.core.records import Seed
from gra.core.store import Store
from gra.council.caller import Caller
from gra.council.council import pick_adjudicator, pick_reviewers
from gra.council.pool import ModelPool
from gra.synthesis.pipeline import Budget, Synth
from tests.fakes import FakeLoader

SEEDS = [
    Seed(f"s:{d}{i}", f"Seed task {d} number {i} about {d}.", f"Answer {i}.", d)
    for d in ("math", "code", "writing")
    for i in range(3)
]


# The machinery under test, not the measured defaults: fixed thresholds, every reviewer asked.
BASE = {
    "aggregate": {"rule": "mean_std", "accept_mean": 7.0, "reject_mean": 5.0},
    "review": {"sure_margin": -1.0},
}


def make(tmp_path, loader, overrides=None, store=None):
    data = {k: dict(v) for k, v in BASE.items()}
    for section, values in (overrides or {}).items():
        data[section] = {**data.get(section, {}), **values} if isinstance(values, dict) else values
    cfg = load_config(data=data)
    store = store or Store(tmp_path / "run.sqlite")
    pool = ModelPool(cfg, loader=loader)
    synth = Synth(cfg, SEEDS, store, Caller(pool, store))
    return synth, store, pool


def run(synth, target=3, max_candidates=50, max_tokens=0):
    return asyncio.run(synth.run(Budget(target, max_candidates, max_tokens)))


def test_pick_reviewers_never_the_generator_while_another_exists():
    assert pick_reviewers(["a", "b", "c"], "a", 2, 0) == ["b", "c"]
    assert pick_reviewers(["a", "b"], "a", 3, 5) == ["b", "b", "b"]
    assert pick_reviewers(["a"], "a", 2, 0) == ["a", "a"]
    assert pick_adjudicator(["a", "b"], "a") == "b" and pick_adjudicator(["a"], "a") == "a"


def test_reaches_target_with_full_provenance(tmp_path):
    loader = FakeLoader(score=lambda r: 9)
    synth, store, _ = make(tmp_path, loader)
    assert run(synth, target=3).startswith("target reached")
    acc = store.candidates("accepted")
    assert len(acc) == 3
    c = acc[0]
    assert c.instruction and c.response.startswith("An answer to:")
    assert len(c.reviews) == 2 and all(r.ok for r in c.reviews)
    assert all(r.reviewer != c.generator for r in c.reviews)
    assert c.aggregate.decision == "accept" and c.adjudication is None
    assert set(c.calls) == {"instruction", "response"} and c.keywords == ["k1", "k2"]
    assert len(c.seed_ids) == 3 and all(s.startswith(f"s:{c.domain}") for s in c.seed_ids)


def test_evolve_mode_rewrites_one_seed_and_the_strongest_model_answers(tmp_path):
    loader = FakeLoader(score=lambda r: 9)
    synth, store, _ = make(
        tmp_path, loader, {"generation": {"mode": "evolve", "responder": "auto"}}
    )
    assert run(synth, target=3).startswith("target reached")
    seeds = {s.id: s for s in SEEDS}
    written = [c for c in store.candidates() if c.instruction]
    assert len(written) >= 3
    for c in written:
        (seed_id,) = c.seed_ids  # one seed, shown whole in the prompt, with one change
        call = c.calls["instruction"]
        assert call.prompt == "evolve@1" and call.model == c.generator
        (request,) = store.db.execute("SELECT request FROM calls WHERE key=?", (call.key,))
        prompt = json.loads(request[0])["messages"][-1]["content"]
        assert f"Task: {seeds[seed_id].instruction}" in prompt and "by changing " in prompt
        assert c.calls["response"].model == "qwen2.5-coder-0.5b"  # auto: the first model
    # the seeds are not tagged: evolve shows no keywords (only samples are tagged)
    tagged = [
        json.loads(r[0]) for r in store.db.execute("SELECT request FROM calls WHERE role='tag'")
    ]
    assert tagged and not any(
        s.instruction in m["content"] for t in tagged for m in t["messages"] for s in SEEDS
    )

    self_answers, store2, _ = make(
        tmp_path / "self", FakeLoader(), {"generation": {"responder": "self"}}
    )
    run(self_answers, target=2)
    assert all(c.calls["response"].model == c.generator for c in store2.candidates() if c.response)


def test_one_instance_per_model_shared_by_all_roles(tmp_path):
    loader = FakeLoader(score=lambda r: 9)
    synth, _, _ = make(tmp_path, loader)
    run(synth, target=4)
    assert sorted(loader.loads) == ["qwen2.5-coder-0.5b", "smollm2-135m"]


def test_low_scores_reject_and_budget_stops_the_run(tmp_path):
    synth, store, _ = make(tmp_path, FakeLoader(score=lambda r: 2))
    reason = run(synth, target=3, max_candidates=5)
    assert reason == "max candidates reached (5)"
    assert store.state_counts() == {"rejected": 5}


def test_token_budget_stops_the_run(tmp_path):
    synth, store, _ = make(tmp_path, FakeLoader(score=lambda r: 2))
    assert run(synth, target=3, max_tokens=100).startswith("max tokens reached")
    assert 100 <= store.total_tokens() < 400


def test_disagreement_goes_to_the_adjudicator(tmp_path):
    # reviewer "qwen" scores 10, "smollm2" scores 2: std 4 > 1.5
    def score(req):
        return 10 if "enum" in req.json_schema and req.seed % 2 else 2

    loader = FakeLoader(score=lambda r: 10, adjudicate="drop")
    loader.kwargs["score"] = lambda r: 10
    synth, store, _ = make(
        tmp_path,
        loader,
        {
            "review": {"models": ["smollm2-135m"], "reviewers": 1},
            "aggregate": {"accept_mean": 10.0, "reject_mean": 1.0},
        },
    )
    loader.kwargs["score"] = lambda r: 8  # borderline mean -> adjudicate -> drop
    run(synth, target=1, max_candidates=3)
    cands = store.candidates()
    assert all(c.state == "rejected" and c.adjudication is not None for c in cands)
    assert all(c.reason.startswith("adjudicator: drop") for c in cands)


def test_unparseable_reviews_are_recorded_not_fatal(tmp_path):
    synth, store, _ = make(tmp_path, FakeLoader(broken_reviews=True, adjudicate="keep"))
    run(synth, target=2)
    c = store.candidates("accepted")[0]
    assert all(not r.ok and r.raw == '{"critique": "cut off' for r in c.reviews)
    assert c.aggregate.decision == "adjudicate" and c.adjudication.keep


def test_duplicates_of_seeds_and_accepted_samples_are_dropped(tmp_path):
    synth, store, _ = make(tmp_path, FakeLoader(score=lambda r: 9))
    dup = synth.index.query("seed task math number 0 about math")
    assert dup == ("seed:s:math0", 1.0)
    run(synth, target=2)
    first = store.candidates("accepted")[0]
    assert synth.index.query(first.instruction.upper())[0] == first.id


def test_resume_replays_the_store_without_new_calls(tmp_path):
    # one candidate at a time, so both runs finish the same candidates in the same order
    one = {"executor": {"concurrency": 1}}
    loader = FakeLoader(score=lambda r: 9)
    synth, store, pool = make(tmp_path, loader, one)
    run(synth, target=2)
    n_calls = sum(len(b.requests) for b in loader.backends.values())
    before = [c.to_dict() for c in store.candidates("accepted")]
    # forget the candidates' outcomes (as if killed mid-way); keep the call cache
    store.db.execute("UPDATE candidates SET state='running'")
    loader2 = FakeLoader(score=lambda r: 9)
    synth2, store2, _ = make(tmp_path, loader2, one, store=store)
    run(synth2, target=2)
    assert loader2.loads == []  # every call answered from the store: no model even loaded
    after = [c.to_dict() for c in store2.candidates("accepted")]
    assert [a["instruction"] for a in after] == [b["instruction"] for b in before]
    rows = store.db.execute("SELECT COUNT(*), MAX(live_calls) FROM calls").fetchone()
    assert rows == (n_calls, 1)


def test_target_already_met_stops_at_once(tmp_path):
    synth, store, _ = make(tmp_path, FakeLoader(score=lambda r: 9))
    run(synth, target=2)
    n = len(store.candidates())
    assert run(synth, target=2).startswith("target reached")
    assert len(store.candidates()) == n


def test_store_request_rows_are_inspectable(tmp_path):
    synth, store, _ = make(tmp_path, FakeLoader(score=lambda r: 9))
    run(synth, target=1)
    roles = {r[0] for r in store.db.execute("SELECT role FROM calls")}
    assert roles == {"tag", "generate", "review"}
    req = json.loads(store.db.execute("SELECT request FROM calls LIMIT 1").fetchone()[0])
    assert req["messages"][0]["role"] == "system"


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_setting_gives_same_counts(tmp_path, concurrency):
    synth, store, _ = make(
        tmp_path, FakeLoader(score=lambda r: 9), {"executor": {"concurrency": concurrency}}
    )
    run(synth, target=4)
    assert store.state_counts().get("accepted") == 4


def test_every_ended_candidate_carries_its_outcome_as_data(tmp_path):
    from gra.synthesis.writer import summarize

    # score 2 rejects at the council; the fake generator's answers pass the checks
    synth, store, _ = make(tmp_path, FakeLoader(score=lambda r: 2))
    run(synth, target=3, max_candidates=4)
    ended = store.candidates("rejected")
    assert len(ended) == 4
    assert {(c.outcome.stage, c.outcome.code) for c in ended} == {("council", "rejected")}
    assert all(c.outcome.detail == c.reason for c in ended)
    # a cheap check's code is the check's name, and the summary counts codes
    c = ended[0]
    c.outcome = type(c.outcome)("checks", "too_short", "cheap check: too_short (2 words)")
    c.reason = "anything at all: the summary does not read it"
    store.save_candidate(c)
    assert summarize(store, store.candidates())["cheap_checks"] == {"too_short": 1}


def test_candidates_in_flight_at_the_target_are_cancelled_not_unfinished(tmp_path):
    from gra.synthesis.writer import summarize

    synth, store, _ = make(
        tmp_path, FakeLoader(score=lambda r: 9), {"executor": {"concurrency": 6}}
    )
    assert run(synth, target=2).startswith("target reached")
    states = store.state_counts()
    assert states["accepted"] == 2 and "running" not in states
    cancelled = store.candidates("cancelled")
    assert cancelled, states  # six in flight, two were enough
    assert {c.outcome.code for c in cancelled} == {"cancelled_at_target"}
    counts = summarize(store, store.candidates())["counts"]
    assert counts["unfinished"] == 0 and counts["cancelled_at_target"] == len(cancelled)
    assert counts["candidates"] == sum(n for s, n in states.items() if s != "cancelled")
    # a larger target takes the cancelled ones up first, replaying their stored calls
    first = {c.idx for c in cancelled}
    one = {"executor": {"concurrency": 1}}  # in order: the cancelled ones before new ones
    synth2, store2, _ = make(tmp_path, FakeLoader(score=lambda r: 9), one, store=store)
    run(synth2, target=2 + len(first))
    assert not store2.candidates("cancelled")
    redone = {c.idx for c in store2.candidates() if c.idx in first}
    assert redone == first and all(c.state != "running" for c in store2.candidates())
    assert store2.db.execute("SELECT MAX(live_calls) FROM calls").fetchone() == (1,)
