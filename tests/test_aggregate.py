"""Aggregation rules and their boundaries: accept / reject / adjudicate."""

from __future__ import annotations

import pytest

from gra.config import AggregateSettings
from gra.core.records import DIMENSIONS, Review
from gra.council.steps.aggregate import aggregate

S = AggregateSettings(accept_mean=7.0, reject_mean=5.0, max_std=1.5, min_valid_reviews=1)


def rev(score: float, ok: bool = True) -> Review:
    if not ok:
        return Review(reviewer="m", ok=False, raw="garbage", error="no JSON object in reply")
    return Review(reviewer="m", ok=True, scores={d: score for d in DIMENSIONS})


@pytest.mark.parametrize(
    "scores, decision",
    [
        ([7, 7], "accept"),  # mean exactly at accept_mean accepts
        ([6.9, 6.9], "adjudicate"),  # just below: borderline
        ([5, 5], "adjudicate"),  # exactly reject_mean is not a reject
        ([4.9, 4.9], "reject"),
        ([10, 7], "accept"),  # std 1.5 == max_std still agrees
        ([10, 6.9], "adjudicate"),  # std 1.55 > 1.5: disagreement
        ([1, 1], "reject"),
        ([10], "accept"),  # one reviewer: std 0
        ([1, 10], "adjudicate"),
    ],
)
def test_decision_boundaries(scores, decision):
    assert aggregate([rev(s) for s in scores], S).decision == decision


def test_mean_and_population_std():
    a = aggregate([rev(9), rev(5), rev(7)], S)
    assert a.mean == pytest.approx(7.0)
    assert a.std == pytest.approx((8 / 3) ** 0.5)
    assert (a.n_valid, a.n_failed) == (3, 0)


def test_overall_is_mean_of_six_dimensions():
    r = Review(
        reviewer="m", ok=True, scores=dict(zip(DIMENSIONS, [10, 8, 6, 4, 2, 6], strict=True))
    )
    assert r.overall == pytest.approx(6.0)


def test_unparseable_reviews_are_counted_not_averaged():
    a = aggregate([rev(9), rev(0, ok=False)], S)
    assert (a.n_valid, a.n_failed, a.decision, a.mean) == (1, 1, "accept", 9.0)


def test_too_few_readable_reviews_go_to_adjudication():
    a = aggregate([rev(0, ok=False), rev(0, ok=False)], S)
    assert (a.decision, a.mean, a.n_failed) == ("adjudicate", None, 2)
    strict = AggregateSettings(min_valid_reviews=2)
    assert aggregate([rev(9), rev(0, ok=False)], strict).decision == "adjudicate"
