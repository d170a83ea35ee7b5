"""gra select: IFD filters and the mismatch guard, judge scores, budgets, the command."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from gra.curate.judge import read_score
from gra.curate.select import Scored, SelectOptions, alien_partners, choose, score_ifd
from gra.io.datasets import Sample
from tests.runs import assert_user_error, run_gra


@dataclass(frozen=True)
class Loss:
    n_tokens: int
    mean_nll: float
    skip: str = ""


def ratio(cond, direct, variant):
    return cond.mean_nll / direct.mean_nll


def test_alien_partners_is_a_derangement_over_distinct_instructions():
    for n in (2, 3, 10, 101):
        p = alien_partners([f"q{i}" for i in range(n)])
        assert sorted(p) == list(range(n))
        assert all(p[i] != i for i in range(n))
    assert alien_partners(["q"]) == [None]
    assert alien_partners(["q", "q"]) == [None, None]
    prompts = ["a", "a", "a", "b"]
    p = alien_partners(prompts)
    assert all(prompts[j] != prompts[i] for i, j in enumerate(p))


def test_ifd_drops_skipped_high_and_mismatched_pairs():
    samples = [Sample(id=f"s{i}", instruction=f"q{i}", response=f"r{i}") for i in range(4)]
    # per response: (own instruction, none, another's instruction)
    table = {
        "r0": (Loss(5, 1.0), Loss(5, 2.0), Loss(5, 1.9)),  # IFD 0.5, guard 0.53: kept
        "r1": (Loss(5, 2.1), Loss(5, 2.0), Loss(5, 2.1)),  # IFD 1.05: dropped
        "r2": (Loss(5, 1.8), Loss(5, 2.0), Loss(5, 1.85)),  # IFD 0.9, guard 0.97: mismatch
        "r3": (Loss(0, 0, "empty response"), Loss(0, 0, "empty response"), Loss(0, 0, "x")),
    }
    calls = []

    def losses(items):
        calls.append(len(items))
        out = []
        for instruction, response in items:
            own, none, other = table[response]
            if instruction is None:
                out.append(none)
            elif instruction == "q" + response[1:]:
                out.append(own)
            else:
                out.append(other)
        return out

    scored = score_ifd(samples, losses, SelectOptions(), ratio, chunk=3)
    assert calls == [9, 3]
    assert [s.drop.split(" ")[0] for s in scored] == ["", "IFD", "mismatch", "not"]
    assert scored[0].detail["ifd"] == 0.5 and scored[0].detail["guard"] == round(1 / 1.9, 6)
    assert "empty response" in scored[3].drop
    no_guard = score_ifd(samples, losses, SelectOptions(guard=0), ratio)
    assert [bool(s.drop) for s in no_guard] == [False, True, False, True]
    assert "guard" not in no_guard[2].detail


def scored_list(scores, drops=None):
    drops = drops or [""] * len(scores)
    return [
        Scored(Sample(id=str(i), instruction=f"i{i}", response="r"), s, {}, d)
        for i, (s, d) in enumerate(zip(scores, drops, strict=True))
    ]


def test_choose_ranks_eligible_by_score_within_budget():
    sc = scored_list([0.2, 0.9, 0.5, 0.95], ["", "", "", "IFD too high"])
    assert choose(sc, SelectOptions()) == [1, 2, 0]
    assert choose(sc, SelectOptions(top_n=2)) == [1, 2]
    assert choose(sc, SelectOptions(top_percent=50)) == [1, 2]  # ceil(3 * 0.5)
    assert choose(sc, SelectOptions(method="none", top_n=2)) == [0, 1]


def test_choose_deita_skips_near_copies_of_better_samples():
    sc = scored_list([0.9, 0.8, 0.7])
    vec = {"i0\nr": [1, 0], "i1\nr": [0.99, 0.14], "i2\nr": [0, 1]}

    def embed(texts):
        m = np.array([vec[t] for t in texts], dtype=np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    assert choose(sc, SelectOptions(diversity="deita", top_n=2), embed) == [0, 2]
    assert choose(sc, SelectOptions(top_n=2), embed) == [0, 1]


def test_read_score_finds_gra_fields():
    gra = Sample("a", "q", "r", record={"provenance": {"aggregate": {"mean": 7.5}}})
    assert (read_score(gra).score, read_score(gra).source) == (7.5, "provenance.aggregate.mean")
    assert read_score(Sample("b", "q", "r", record={"score": 3})).score == 3.0
    assert read_score(Sample("c", "q", "r", record={"x": {"y": 2}}), "x.y").score == 2.0
    assert "no score field" in read_score(Sample("d", "q", "r", record={})).skip


def test_judge_command_filters_ranks_and_writes_scores(tmp_path):
    rows = [
        {"id": "a", "instruction": "What is qa?", "response": "ra", "score": 8.0},
        {"id": "b", "instruction": "What is qb?", "response": "rb", "score": 5.0},
        {"id": "c", "instruction": "What is qc?", "response": "rc", "score": 9.5},
        {"id": "d", "instruction": "What is qd?", "response": "rd"},
        {"id": "e", "instruction": "What is qe?", "response": "re", "score": 7.0},
    ]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "sel.jsonl"
    p = run_gra(
        "select", data, "--out", out, "--method", "judge", "--min-score", "7", "--top-n", "2"
    )
    assert p.returncode == 0, p.stderr
    assert "selected 2 of 5 samples (3 eligible" in p.stdout
    sel = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in sel] == ["a", "c"]  # file order
    assert sel[1]["gra_scores"]["rank"] == 1 and sel[1]["score"] == 9.5
    scores = {
        r["id"]: r
        for r in map(json.loads, (tmp_path / "sel.scores.jsonl").read_text().splitlines())
    }
    assert scores["b"]["dropped"] == "judge score 5 < 7"
    assert scores["d"]["dropped"].startswith("not scored: no score field")
    assert scores["e"]["dropped"] == "outside the budget"
    assert scores["c"]["selected"] and scores["c"]["rank"] == 1


def test_select_usage_errors(tmp_path):
    data = tmp_path / "d.jsonl"
    row = {"instruction": "What is q?", "response": "r", "score": "high"}
    data.write_text(json.dumps(row) + "\n")
    out = tmp_path / "o.jsonl"
    assert_user_error(
        run_gra("select", data, "--out", out, "--top-n", "1", "--top-percent", "5"), "--top-n"
    )
    assert_user_error(run_gra("select", data, "--out", out, "--min-score", "3"), "--method")
    assert_user_error(
        run_gra("select", data, "--out", out, "--method", "judge", "--guard", "1"), "--guard"
    )
    assert_user_error(
        run_gra("select", data, "--out", out, "--method", "judge"), "d.jsonl:1", "not a number"
    )
    assert not out.exists()


@pytest.mark.model
def test_ifd_command_with_the_embedded_scorer(tmp_path):
    rows = [
        {"id": "add", "instruction": "Add 12 and 30.", "response": "12 + 30 = 42."},
        {
            "id": "sky",
            "instruction": "Why is the sky blue?",
            "response": "Sunlight scatters off air molecules, and blue light scatters most.",
        },
        {
            "id": "mix",
            "instruction": "Name a primary colour.",
            "response": "Photosynthesis turns light, water and carbon dioxide into sugar.",
        },
        {"id": "empty", "instruction": "Write a haiku about rain.", "response": ""},
    ]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out, cache = tmp_path / "sel.jsonl", tmp_path / "cache.sqlite"
    args = ("select", data, "--out", out, "--cache", cache, "--top-n", "2", "--guard", "0")
    p = run_gra(*args)
    assert p.returncode == 0, p.stderr
    scores = {
        r["id"]: r
        for r in map(json.loads, (tmp_path / "sel.scores.jsonl").read_text().splitlines())
    }
    assert scores["empty"]["dropped"].startswith("cheap check: empty_response")
    for sid in ("add", "sky", "mix"):
        assert scores[sid]["ifd"] > 0 and scores[sid]["response_tokens"] > 1
    sel = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(sel) == 2 and all(r["gra_scores"]["ifd"] < 1 for r in sel)
    first = out.read_text()
    again = run_gra(*args)  # every loss from the cache: same selection
    assert again.returncode == 0, again.stderr
    assert out.read_text() == first


@pytest.mark.model
def test_judge_command_asks_a_reviewer_and_caches_its_calls(tmp_path):
    rows = [
        {"id": "a", "instruction": "Add 12 and 30.", "response": "12 + 30 = 42."},
        {
            "id": "b",
            "instruction": "Name a primary colour.",
            "response": "Red is a primary colour.",
        },
    ]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("models:\n  smollm2-135m:\n    concurrency: 2\nreview:\n  max_tokens: 160\n")
    out, cache = tmp_path / "sel.jsonl", tmp_path / "calls.sqlite"
    args = ("select", data, "--out", out, "--method", "judge", "--reviewer", "smollm2-135m")
    p = run_gra(*args, "--config", cfg, "--cache", cache)
    assert p.returncode == 0, p.stderr
    scores = [json.loads(x) for x in (tmp_path / "sel.scores.jsonl").read_text().splitlines()]
    for r in scores:
        assert r["judge_source"] == "reviewers" and r["reviews"][0]["reviewer"] == "smollm2-135m"
        assert r["score"] is None or 1 <= r["score"] <= 10
    first = (tmp_path / "sel.scores.jsonl").read_text()
    again = run_gra(*args, "--config", cfg, "--cache", cache)  # answered from the store
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "sel.scores.jsonl").read_text() == first
