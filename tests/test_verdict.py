"""The calibrated verdict: signals, the fit, the threshold, the council's use of it,
and gra calibrate."""

from __future__ import annotations

import json
import math
import random

import pytest
import yaml

from gra.config import load_config
from gra.core.errors import UserError
from gra.council import verdict
from gra.council.council import council_score
from gra.council.steps import judge_yes
from gra.curate.calibrate import calibrate, label_of, write_config
from gra.curate.review import review_samples
from gra.io.datasets import Sample
from tests.fakes import FakeLoader
from tests.runs import assert_user_error, run_gra

QWEN = "qwen2.5-coder-0.5b"
ONE_JUDGE = {
    "rule": "calibrated",
    "judges": [QWEN],
    "loss_models": [],
    "weights": {f"yes:{QWEN}": 1.0},
    "bias": 0.0,
    "accept_p": 0.5,
}


def test_p_yes_reads_the_first_token_and_falls_back_to_the_word():
    top = [
        {"token": " Yes", "logprob": math.log(0.6)},
        {"token": "No", "logprob": math.log(0.2)},
        {"token": "The", "logprob": math.log(0.2)},
    ]
    lp = {"content": [{"token": " Yes", "logprob": math.log(0.6), "top_logprobs": top}]}
    assert judge_yes.p_yes(" Yes", lp) == pytest.approx(0.75)
    assert judge_yes.p_yes("No", None) == 0.0
    assert judge_yes.p_yes("Yes.", {}) == 1.0
    assert judge_yes.p_yes("Maybe", None) == 0.5


def test_signals_and_p_good():
    x = verdict.signals("What is 2 + 2?", "4", {QWEN: 0.99}, rubric_mean=7.0)
    assert x[f"yes:{QWEN}"] == pytest.approx(4.595, abs=1e-3)
    assert x["rubric"] == 2.0 and x["question"] == 1.0 and x["code"] == 0.0
    assert x["words"] == pytest.approx(math.log10(2))
    assert verdict.p_good(x, {}, 0.0) == 0.5
    assert verdict.p_good(x, {f"yes:{QWEN}": 1.0}, 0.0) == pytest.approx(0.99, abs=1e-3)
    # a weighted signal the pair lacks counts as 0
    assert verdict.p_good({}, {"rubric": 3.0}, 0.0) == 0.5


def test_fit_weighs_an_informative_signal_above_noise():
    rng = random.Random(0)
    rows, labels = [], []
    for _ in range(400):
        y = rng.random() < 0.3
        rows.append({"a": (1.5 if y else -1.5) + rng.gauss(0, 1), "noise": rng.gauss(0, 1)})
        labels.append(int(y))
    weights, bias = verdict.fit(rows, labels, ["a", "noise"])
    assert weights["a"] > 2.0 and abs(weights["noise"]) < 0.4
    scores = [verdict.p_good(r, weights, bias) for r in rows]
    good = [s for s, y in zip(scores, labels, strict=True) if y]
    bad = [s for s, y in zip(scores, labels, strict=True) if not y]
    assert verdict.auroc(good, bad) > 0.9
    with pytest.raises(ValueError):
        verdict.fit(rows, [1] * len(rows), ["a"])


def test_threshold_reaches_the_precision_asked_for():
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    labels = [1, 1, 0, 1, 0, 0]
    t = verdict.threshold_for(scores, labels, 0.75)
    accepted = [y for s, y in zip(scores, labels, strict=True) if s >= t]
    assert accepted == [1, 1, 0, 1]  # precision 0.75, the most accepted that reach it
    t = verdict.threshold_for(scores, labels, 1.0)
    assert [y for s, y in zip(scores, labels, strict=True) if s >= t] == [1, 1]
    # unreachable: the best precision there is
    assert verdict.threshold_for([0.9, 0.8, 0.7, 0.6], [0, 1, 1, 0], 0.9) == pytest.approx(0.65)


def test_config_checks_the_calibrated_settings():
    cfg = load_config(data={"aggregate": ONE_JUDGE})
    assert QWEN in cfg.model_names() and cfg.judging_models() == [QWEN]
    assert load_config(data={"aggregate": {"rule": "mean_std"}}).judging_models(False) == [
        "qwen2.5-coder-0.5b",
        "smollm2-135m",
    ]
    for bad, words in (
        ({"weights": {"yes:other-model": 1.0}}, "aggregate.weights.yes:other-model"),
        ({"weights": {"length": 1.0}}, "no signal"),
        ({"accept_p": 1.5}, "aggregate.accept_p"),
        ({"rule": "vote"}, "aggregate.rule"),
    ):
        with pytest.raises(UserError) as e:
            load_config(data={"aggregate": {**ONE_JUDGE, **bad}})
        assert words in str(e.value)


SAMPLES = [
    Sample(f"s{i}", f"Explain topic {i} in a few sentences, please.", f"Topic {i} is " * 6)
    for i in range(6)
]


def test_council_accepts_by_p_good_and_asks_no_reviewer(tmp_path):
    # the fake judge answers p(Yes) = score / 10
    loader = FakeLoader(score=lambda req: 9 if "topic 1 " in req.messages[-1][1] else 2)
    cfg = load_config(data={"aggregate": ONE_JUDGE, "review": {"stages": ["council"]}})
    judged = review_samples(SAMPLES, cfg, tmp_path / "calls.sqlite", loader=loader)
    assert [j.verdict for j in judged] == ["reject", "accept"] + ["reject"] * 4
    c = judged[1].candidate
    assert c.aggregate.p_good == pytest.approx(0.9, abs=1e-3) and not c.reviews
    assert c.aggregate.signals[f"yes:{QWEN}"] == pytest.approx(math.log(9), abs=1e-3)
    assert council_score(c, cfg) == pytest.approx(1 + 9 * 0.9, abs=1e-2)
    assert f"judge:{QWEN}" in c.calls
    assert loader.loads == [QWEN]  # the reviewers were never loaded


def labeled(tmp_path, n=24):
    rows = []
    for i in range(n):
        good = i % 3 == 0
        how = "clear, correct" if good else "weak"
        text = f"Idea {i} has a {how} story: it began in town {i}, and people still use it."
        rows.append(
            {"id": f"r{i}", "instruction": f"Explain idea {i} in detail.", "response": text,
             "label": "good" if good else "bad"}
        )  # fmt: skip
    path = tmp_path / "labeled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_calibrate_fits_and_writes_the_config(tmp_path):
    from gra.io.datasets import load_samples

    samples = load_samples(labeled(tmp_path))
    loader = FakeLoader(score=lambda req: 8 if "clear, correct" in req.messages[-1][1] else 3)
    cfg = load_config(data={"aggregate": {**ONE_JUDGE, "weights": {}}})
    cal = calibrate(samples, cfg, tmp_path / "calls.sqlite", precision=0.9, loader=loader)
    assert cal.fitted == {"good": 8, "bad": 16} and cal.rows == 24
    assert cal.weights[f"yes:{QWEN}"] > 0 and cal.auroc == 1.0 and cal.precision == 1.0
    base = tmp_path / "council.yaml"
    base.write_text("seed: 7\naggregate:\n  max_std: 2.0\n")
    out = tmp_path / "calibrated.yaml"
    write_config(cal, base, out)
    written = yaml.safe_load(out.read_text())
    assert written["seed"] == 7 and written["aggregate"]["max_std"] == 2.0
    assert written["aggregate"]["weights"] == cal.weights
    reloaded = load_config(out)
    assert reloaded.aggregate.accept_p == cal.accept_p and reloaded.aggregate.judges == [QWEN]


def test_label_must_be_good_or_bad():
    with pytest.raises(UserError) as e:
        label_of(Sample("x", "Do it.", "Done.", where="f.jsonl:3", record={"label": "maybe"}))
    assert "f.jsonl:3" in str(e.value) and "good or bad" in str(e.value)


def test_calibrate_command_errors(tmp_path):
    data = labeled(tmp_path)
    assert_user_error(run_gra("calibrate", data), "--out")
    bad = tmp_path / "unlabeled.jsonl"
    bad.write_text(json.dumps({"instruction": "Do it.", "response": "Done."}) + "\n")
    p = run_gra("calibrate", bad, "--out", tmp_path / "c.yaml")
    assert_user_error(p, "unlabeled.jsonl:1", "label")
    assert not (tmp_path / "c.yaml").exists()


class FakeLossScorer:
    """Loss 0.2 per token for responses that say 'clear', 1.5 otherwise."""

    def __init__(self):
        self.batches = []
        self.closed = False

    def losses(self, items):
        from gra.ifd.scoring import ResponseLoss

        self.batches.append(len(items))
        return [
            ResponseLoss(10, 2.0 if "clear" in r else 15.0) if r else ResponseLoss.skipped("empty")
            for _, r in items
        ]

    def close(self):
        self.closed = True


def test_loss_signal_batches_concurrent_asks_and_feeds_the_verdict(tmp_path):
    import asyncio

    from gra.core.records import Candidate
    from gra.core.store import Store
    from gra.council.caller import Caller
    from gra.council.council import Council
    from gra.council.loss_signal import MISSING, LossSignals
    from gra.council.pool import ModelPool
    from gra.models.loading import untuned

    scorer = FakeLossScorer()
    cfg = load_config(
        data={"aggregate": {**ONE_JUDGE, "loss_models": [QWEN],
                            "weights": {f"loss:{QWEN}": -3.0}, "bias": 1.5}}
    )  # fmt: skip
    losses = LossSignals(cfg, loader=lambda cfg, name: scorer)

    async def main():
        pool = ModelPool(cfg, FakeLoader(), untuned)
        council = Council(cfg, Caller(pool, Store(tmp_path / "s.sqlite")), losses)
        cands = [
            Candidate(i, "d", "g", [], f"Explain idea {i}.", "", text)
            for i, text in enumerate(["A clear answer.", "A muddled answer.", ""])
        ]
        verdicts = await asyncio.gather(*(council.judge(c, i) for i, c in enumerate(cands)))
        await pool.aclose()
        pool.close()
        council.close()
        return cands, verdicts

    cands, verdicts = asyncio.run(main())
    assert [keep for keep, _ in verdicts] == [True, False, False]
    assert cands[0].aggregate.signals[f"loss:{QWEN}"] == pytest.approx(0.2)
    assert cands[2].aggregate.signals[f"loss:{QWEN}"] == MISSING  # nothing to score
    assert scorer.batches == [3]  # asked together: scored in one batch
    assert scorer.closed


@pytest.mark.model
def test_loss_signal_with_the_embedded_model():
    import asyncio

    from gra.council.loss_signal import MISSING, LossSignals

    cfg = load_config(data={"aggregate": {**ONE_JUDGE, "loss_models": ["smollm2-135m"]}})
    losses = LossSignals(cfg)

    async def main():
        return await asyncio.gather(
            losses.mean_nll("smollm2-135m", "What is the capital of France?",
                            "The capital of France is Paris."),
            losses.mean_nll("smollm2-135m", "What is the capital of France?",
                            "Purple elephants quantum sandwich the of of."),
            losses.mean_nll("smollm2-135m", "What is the capital of France?", ""),
        )  # fmt: skip

    try:
        right, garbage, empty = asyncio.run(main())
    finally:
        losses.close()
    assert 0 < right < garbage and empty == MISSING
