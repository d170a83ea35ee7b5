"""task: preference (gra.synthesis.preference): the pair rule at its boundaries, the TRL
and UltraFeedback shapes, a run on a scripted council, and one on the embedded council."""

from __future__ import annotations

import asyncio
import json

import datasets
import pytest
import yaml

import gra
from gra.config import load_config
from gra.core.calls import ChatResponse
from gra.core.errors import UserError
from gra.core.store import Store
from gra.council.caller import Caller
from gra.council.pool import ModelPool
from gra.io.formats import to_trl, to_ultrafeedback
from gra.synthesis.pipeline import Budget, Synth
from gra.synthesis.preference import Response, pair, preference_record, preference_summary
from gra.synthesis.writer import write_outputs
from tests.fakes import FakeBackend
from tests.test_pipeline import SEEDS


def _r(score, keep=True, check=None):
    return Response("m", 0.7, "text", check=check, score=score, keep=keep)


def test_the_pair_rule_at_its_boundaries():
    assert pair([_r(8.0), _r(7.0)], 1.0) == (0, 1, 1.0)  # exactly the margin: a pair
    assert pair([_r(8.0), _r(7.01)], 1.0) == "margin 0.99 below preference.min_margin 1"
    assert pair([_r(8.0, keep=False), _r(2.0, keep=False)], 1.0) == (
        "no response passed the accept rule"
    )
    # the best the council accepted is chosen (not a higher one it rejected)
    assert pair([_r(9.0, keep=False), _r(6.0), _r(3.0)], 1.0) == (1, 2, 3.0)
    # a response a cheap check rejected is a valid rejected one, and the worst
    assert pair([_r(5.0), _r(0.0, keep=False, check="truncated"), _r(4.0)], 1.0) == (0, 1, 5.0)
    # ties: the earlier is chosen, the later rejected
    assert pair([_r(7.0), _r(7.0), _r(3.0), _r(3.0)], 0.0) == (0, 3, 4.0)
    assert pair([_r(7.0), _r(7.0)], 0.0) == (0, 1, 0.0)


RECORD = {
    "id": "c000003",
    "prompt": "Name a prime number.",
    "chosen": "7 is prime.",
    "rejected": "Once upon a time",
    "chosen_score": 8.5,
    "rejected_score": 0.0,
    "margin": 8.5,
    "provenance": {
        "responses": [
            {"model": "a", "text": "7 is prime.", "score": 8.5, "check": None, "temperature": 0.7},
            {
                "model": "b",
                "text": "Once upon a time",
                "score": 0.0,
                "check": "not_an_answer",
                "temperature": 0.7,
            },
        ],
    },  # fmt: skip
}


def test_trl_rows_load_as_conversational_preference_data():
    ds = datasets.Dataset.from_list([to_trl(RECORD)] * 2)
    assert ds.column_names == ["prompt", "chosen", "rejected"]
    message = {"content": datasets.Value("string"), "role": datasets.Value("string")}
    for column in ds.column_names:  # a list of {role, content}: what TRL's trainers read
        feature = ds.features[column]
        inner = getattr(feature, "feature", feature[0] if isinstance(feature, list) else None)
        assert dict(inner) == message, feature
    assert ds[0]["prompt"] == [{"role": "user", "content": "Name a prime number."}]
    assert ds[0]["chosen"] == [{"role": "assistant", "content": "7 is prime."}]
    assert ds[1]["rejected"][0]["content"] == "Once upon a time"


def test_ultrafeedback_rows_carry_every_completion_and_its_rating():
    row = to_ultrafeedback(RECORD)
    assert row["instruction"] == "Name a prime number."
    got = [(c["model"], c["overall_score"], c["rejected_by_check"]) for c in row["completions"]]
    assert got == [("a", 8.5, None), ("b", 0.0, "not_an_answer")]
    assert datasets.Dataset.from_list([row]).num_rows == 1


class Graded(FakeBackend):
    """Responses that differ by sampling seed; reviews that score them by their seed."""

    async def chat(self, req):
        user = req.messages[-1][1]
        if not req.json_schema and "Reviewing" not in user and "Answer Yes or No" not in user:
            with self._lock:
                self.requests.append(req)
            text = f"Answer number {req.seed % 7}: an answer to: {user}"
            return ChatResponse(text, "stop", prompt_tokens=10, completion_tokens=6, latency_s=0.0)
        return await super().chat(req)


def _score(req):
    text = req.messages[-1][1]
    for k in range(7):
        if f"Answer number {k}:" in text:
            return 3 + k  # 3..9
    return 8


#: three graded responses per instruction; the rubric rule with fixed thresholds
PAIRS = {
    "task": "preference",
    "preference": {"k": 3, "min_margin": 1.0},
    "aggregate": {"rule": "mean_std", "accept_mean": 5.0, "reject_mean": 4.0},
    "review": {"sure_margin": -1.0},
}


def _graded(settings):
    return Graded(f"fake:{settings.source}", score=_score)


def test_a_preference_run_writes_pairs_and_exports_them(tmp_path):
    cfg = load_config(data=PAIRS)
    store = Store(tmp_path / "run.sqlite")
    loader = _graded
    synth = Synth(cfg, SEEDS, store, Caller(ModelPool(cfg, loader=loader), store))
    assert asyncio.run(synth.run(Budget(3, 30, 0))).startswith("target reached")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))  # for the card
    summary = write_outputs(store, tmp_path, ["trl", "ultrafeedback"], {})
    rows = [json.loads(x) for x in (tmp_path / "data.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    for r in rows:
        assert r["margin"] == round(r["chosen_score"] - r["rejected_score"], 4) >= 1.0
        assert r["chosen"] != r["rejected"] and r["prompt"]
        assert len(r["provenance"]["responses"]) == 3
    trl = [json.loads(x) for x in (tmp_path / "data.trl.jsonl").read_text().splitlines()]
    assert [t["chosen"][0]["content"] for t in trl] == [r["chosen"] for r in rows]
    uf = (tmp_path / "data.ultrafeedback.jsonl").read_text().splitlines()
    assert len(json.loads(uf[0])["completions"]) == 3
    p = preference_summary(store.candidates())
    assert p["pairs"] == 3 and sum(p["margin_histogram"]["counts"]) == 3
    assert sum(p["chosen_by_model"].values()) == 3
    assert summary["counts"]["accepted"] == 3
    c = store.candidates("accepted")[0]
    assert preference_record(c)["chosen"] == c.response
    card = (tmp_path / "README.md").read_text()
    assert "3 preference pairs (prompt, chosen, rejected" in card and "- dpo" in card


def test_a_sample_format_on_a_preference_run_is_one_line(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in SEEDS))
    with pytest.raises(UserError, match="a preference run exports trl or ultrafeedback"):
        gra.synth(seeds, tmp_path / "run", config={"task": "preference"}, formats=["alpaca"])
    with pytest.raises(UserError, match="set task: preference"):
        gra.synth(seeds, tmp_path / "run", formats=["trl"])
    assert not (tmp_path / "run").exists()


@pytest.mark.model
def test_a_preference_run_on_the_embedded_council(tmp_path):
    from tests.councils import fast_roles

    cfg = fast_roles("smollm2-135m")
    cfg["generation"]["models"] = ["smollm2-135m"]
    cfg["task"] = "preference"
    cfg["preference"] = {"k": 2, "min_margin": 0.0, "temperatures": [0.2, 1.2]}
    # what the tiny model writes fails most checks: the machinery is under test here
    cfg["checks"] = {"disabled": ["prompt_leak", "not_a_request", "restates_task", "too_short",
                                  "deflection", "missing_input", "truncated",
                                  "task_about_itself"]}  # fmt: skip
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in SEEDS[:3]))
    r = gra.synth(seeds, tmp_path / "run", n=1, max_candidates=4, config=cfg, formats=["trl"])
    assert r.summary["task"] == "preference"
    p = r.summary["preference"]
    assert p["pairs"] == r.summary["counts"]["accepted"]
    reasons = [c for c in Store(tmp_path / "run" / "run.sqlite").candidates() if c.preference]
    assert reasons, "no candidate reached its responses"
    for c in reasons:
        assert len(c.preference["responses"]) == 2
        assert all(x["score"] is not None for x in c.preference["responses"])
    if p["pairs"]:
        row = json.loads((tmp_path / "run" / "data.trl.jsonl").read_text().splitlines()[0])
        assert row["chosen"][0]["role"] == "assistant"


def test_a_preference_run_resumes_without_making_a_call_twice(tmp_path):
    cfg = load_config(data={**PAIRS, "executor": {"concurrency": 2}})
    loader = _graded

    def synth():
        store = Store(tmp_path / "run.sqlite")
        return Synth(cfg, SEEDS, store, Caller(ModelPool(cfg, loader=loader), store)), store

    first, store = synth()
    asyncio.run(first.run(Budget(1, 30, 0)))  # stops at the first pair: others cancelled
    before = store.candidates()
    store.close()
    again, store = synth()
    asyncio.run(again.run(Budget(3, 30, 0)))
    assert store.db.execute("SELECT MAX(live_calls) FROM calls").fetchone() == (1,)
    after = {c.idx: c for c in store.candidates()}
    assert all(after[c.idx].state == c.state for c in before if c.state == "accepted")
    assert sum(c.state == "accepted" for c in after.values()) == 3
