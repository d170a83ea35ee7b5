"""gra review: logprob-expected scores, adaptive reviewing, the stages, the command."""

from __future__ import annotations

import json
import math

import pytest

from gra.config import load_config
from gra.core.records import DIMENSIONS, Adjudication, Aggregate, Candidate, Review
from gra.council.council import council_score, settled
from gra.council.steps import adjudicate, review
from gra.curate.review import review_samples, summarize
from gra.io.datasets import Sample
from tests.fakes import FakeLoader
from tests.runs import assert_user_error, run_gra


def entry(token: str, probs: dict[str, float]) -> dict:
    """A logprobs entry: ``token`` was written; ``probs`` are the top tokens."""
    top = [{"token": t, "logprob": math.log(p)} for t, p in probs.items()]
    return {"token": token, "logprob": math.log(probs.get(token, 1e-9)), "top_logprobs": top}


def tokens_of(text: str) -> list[dict]:
    return [entry(ch, {ch: 1.0}) for ch in text]


def review_entries(dists: dict[str, tuple[str, dict[str, float]]]) -> tuple[str, list[dict]]:
    """A review reply written token by token; each dimension's value from ``dists``.
    After a written "1" the next position has p("0") 0.25; after "10", 0.8."""
    entries = tokens_of('{"critique": "Fine, 2 small slips.", ')
    for k, d in enumerate(DIMENSIONS):
        entries += tokens_of(f'"{d}": ')
        written, probs = dists[d]
        entries.append(entry(written[0], probs))
        sep = ", " if k < len(DIMENSIONS) - 1 else "}"
        if written == "10":
            entries.append(entry("0", {"0": 0.8, sep[0]: 0.2}))
        elif written == "1":
            entries.append(entry(sep[0], {sep[0]: 0.75, "0": 0.25}))
            sep = sep[1:]
        entries += tokens_of(sep)
    return "".join(e["token"] for e in entries), entries


def test_expected_scores_weigh_the_score_tokens():
    dists = {d: ("8", {"8": 0.5, "9": 0.25, "7": 0.25}) for d in DIMENSIONS}
    dists["clarity"] = ("9", {"9": 0.6, "1": 0.3, "x": 0.1})  # "1": 1 or 10? left out
    dists["relevance"] = ("1", {"1": 0.8, "2": 0.2})  # next: p("0") 0.25 vs p(",") 0.75
    dists["ethicality"] = ("10", {"1": 0.9, "9": 0.1})  # next: p("0") 0.8 vs p(",") 0.2
    text, entries = review_entries(dists)
    r = review.parse("m", text, {"content": entries})
    assert r.ok and r.method == "logprobs"
    assert r.scores["correctness"] == pytest.approx(8.0)
    assert r.scores["clarity"] == pytest.approx(9.0)
    # 0.8 * (0.75 * 1 + 0.25 * 10) + 0.2 * 2
    assert r.scores["relevance"] == pytest.approx(0.8 * 0.75 + 0.8 * 0.25 * 10 + 0.4, abs=1e-3)
    assert r.scores["ethicality"] == pytest.approx(0.9 * (0.2 + 0.8 * 10) + 0.9, abs=1e-3)
    assert r.sampled["relevance"] == 1 and r.sampled["ethicality"] == 10
    assert r.sampled["correctness"] == 8  # the written digits are kept


def test_without_logprobs_the_written_digits_are_the_scores():
    text = json.dumps({"critique": "Good.", **{d: 7 for d in DIMENSIONS}})
    for lp in (None, {}, {"content": tokens_of(text[:20])}):  # absent, empty, partial
        r = review.parse("m", text, lp)
        assert r.ok and r.method == "sampled" and r.scores == {d: 7.0 for d in DIMENSIONS}
        assert r.sampled == {}


def test_adjudicator_p_keep_from_the_decision_token():
    entries = tokens_of('{"reason": "ok", "decision": "')
    entries.append(entry("keep", {"keep": 0.6, "drop": 0.2, "k": 0.1, "x": 0.1}))
    entries += tokens_of('"}')
    text = "".join(e["token"] for e in entries)
    a = adjudicate.parse("m", text, {"content": entries})
    assert a.ok and a.keep and a.p_keep == pytest.approx(0.7 / 0.9, abs=1e-4)
    assert adjudicate.parse("m", text).p_keep is None


THRESHOLDS = {"rule": "mean_std", "accept_mean": 7.0, "reject_mean": 5.0}  # the rubric rule


def test_settled_only_when_every_review_is_beyond_a_threshold_by_the_margin():
    cfg = load_config(data={"review": {"sure_margin": 1.0}, "aggregate": THRESHOLDS})

    def rev(x):
        return Review("m", True, {d: x for d in DIMENSIONS})

    assert settled([rev(8.5)], cfg) and settled([rev(3.5)], cfg)
    assert not settled([rev(7.5)], cfg) and not settled([rev(4.5)], cfg)
    assert not settled([rev(9), rev(3)], cfg) and not settled([], cfg)
    assert not settled([Review("m", False)], cfg)
    off = load_config(data={"review": {"sure_margin": -1.0}, "aggregate": THRESHOLDS})
    assert not settled([rev(9.5)], off)


def test_council_score_orders_decisions():
    cfg = load_config(data={"aggregate": THRESHOLDS})
    c = Candidate(0, "d", "g", [])
    assert council_score(c, cfg) is None
    c.aggregate = Aggregate(8.2, 0.1, 2, 0, "accept", "")
    assert council_score(c, cfg) == 8.2
    c.adjudication = Adjudication("m", True, True, p_keep=0.75)
    assert council_score(c, cfg) == pytest.approx(5 + 0.75 * 2)
    c.adjudication = Adjudication("m", True, False)  # no logprobs: keep 1 / drop 0
    assert council_score(c, cfg) == 5.0


SAMPLES = [
    Sample("a", "Explain why the sky is blue.", "Sunlight scatters off air; blue scatters most."),
    Sample("b", "Write a haiku about rain.", ""),
    Sample("c", "Name three primary colours.", "Red, yellow and blue are primary colours."),
]


def judged_with(tmp_path, score, **review_settings):
    review_settings.setdefault("sure_margin", -1.0)
    cfg = load_config(
        data={
            "review": {"stages": ["checks", "council", "adjudicator"]},
            "aggregate": THRESHOLDS,
        }
    )
    for k, v in review_settings.items():
        setattr(cfg.review, k, v)
    loader = FakeLoader(score=lambda r: score)
    judged = review_samples(SAMPLES, cfg, tmp_path / "calls.sqlite", loader=loader)
    return judged, loader


def test_stages_give_verdicts_scores_and_reasons(tmp_path):
    judged, _ = judged_with(tmp_path, 9)
    a, b, c = judged
    assert b.verdict == "reject" and b.stage == "checks" and b.score == 0.0
    assert b.reasons[0].startswith("cheap check: empty_response")
    assert a.verdict == "accept" and a.score == 9.0 and a.stage == "council"
    rec = a.record()
    assert rec["id"] == "a" and rec["verdict"] == "accept" and rec["decided_by"] == "council"
    assert len(rec["reviews"]) == 2 and rec["reviews"][0]["method"] == "sampled"
    assert rec["review_tokens"] == 30  # two fake calls of 10 + 5 tokens
    s = summarize(judged)
    assert s["accepted"] == 2 and s["rejected_by"] == {"checks": 1}
    assert s["review_tokens_per_accepted"] == 30.0


def test_borderline_goes_to_the_adjudicator(tmp_path):
    judged, _ = judged_with(tmp_path, 6)  # between reject 5 and accept 7
    a = judged[0]
    assert a.candidate.adjudication is not None and a.verdict == "accept"
    assert a.stage == "adjudicator" and a.score == 7.0  # keep without logprobs: p 1


def test_adaptive_review_stops_once_settled(tmp_path):
    judged, loader = judged_with(tmp_path, 9, sure_margin=1.0)
    assert [len(j.candidate.reviews) for j in judged if j.candidate] == [1, 1]
    asked = sum(len(b.requests) for b in loader.backends.values())
    assert asked == 2  # one review per reviewed sample instead of two
    (tmp_path / "b").mkdir()
    judged, _ = judged_with(tmp_path / "b", 7, sure_margin=1.0)  # 7 < 7 + 1: ask both
    assert [len(j.candidate.reviews) for j in judged if j.candidate] == [2, 2]


def test_a_disabled_mismatch_check_loads_no_model(tmp_path):
    cfg = load_config(
        data={
            "review": {"stages": ["checks", "mismatch"]},
            "checks": {"disabled": ["mismatch"], "mismatch_model": "no-such-model"},
        }
    )
    judged = review_samples(SAMPLES, cfg, tmp_path / "calls.sqlite")
    assert [j.verdict for j in judged] == ["accept", "reject", "accept"]
    assert [j.score for j in judged] == [1.0, 0.0, 1.0]


def test_review_usage_errors(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "a", "instruction": "x", "response": "y"}) + "\n")
    out = tmp_path / "v.jsonl"
    assert_user_error(run_gra("review", data, "--out", out, "--stages", "checks,vibes"), "vibes")
    assert_user_error(run_gra("review", tmp_path / "nope.jsonl", "--out", out), "not found")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("review:\n  stages: [adjudicator]\n")
    assert_user_error(run_gra("review", data, "--out", out, "--config", cfg), "review.stages")
    assert not out.exists()


@pytest.mark.model
def test_review_command_with_the_embedded_model(tmp_path):
    rows = [
        {"id": "add", "instruction": "Add 12 and 30.", "response": "12 + 30 = 42.", "x": 1},
        {"id": "sky", "instruction": "Why is the sky blue?", "response": "Rayleigh scattering."},
        {"id": "empty", "instruction": "Write a haiku about rain.", "response": ""},
    ]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "models:\n  smollm2-135m:\n    concurrency: 2\n"
        "review:\n  models: [smollm2-135m]\n  max_tokens: 120\n"
        "adjudication:\n  models: [smollm2-135m]\n  max_tokens: 80\n"
        "aggregate:\n  rule: mean_std\n"
    )
    out = tmp_path / "v.jsonl"
    args = ("review", data, "--out", out, "--config", cfg, "--stages", "checks,council")
    p = run_gra(*args)
    assert p.returncode == 0, p.stderr
    assert "reviewed 3:" in p.stdout and "/accepted" in p.stdout
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in got] == ["add", "sky", "empty"] and got[0]["x"] == 1
    assert got[2]["verdict"] == "reject" and got[2]["decided_by"] == "checks"
    for r in got[:2]:
        assert r["verdict"] in ("accept", "reject") and 1.0 <= r["score"] <= 10.0
        for rv in r["reviews"]:
            if rv["ok"]:  # the embedded backend gives logprobs: expected scores
                assert rv["method"] == "logprobs"
                assert set(rv["sampled_scores"]) == set(DIMENSIONS)
    summary = json.loads((tmp_path / "v.summary.json").read_text())
    assert summary["reviewed"] == 2 and summary["review_tokens"] > 0
    first = out.read_text()
    again = run_gra(*args)  # every call answered from the store: same verdicts
    assert again.returncode == 0, again.stderr
    assert out.read_text() == first
