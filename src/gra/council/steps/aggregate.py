"""Aggregation: mean and spread of the reviewers' overall scores -> a decision.

Rules, in order (thresholds from ``aggregate`` in the config):

1. fewer than ``min_valid_reviews`` parsed reviews     -> adjudicate
2. std  >  ``max_std`` (the reviewers disagree)         -> adjudicate
3. mean >= ``accept_mean``                              -> accept
4. mean <  ``reject_mean``                              -> reject
5. otherwise (a borderline mean the council agrees on)  -> adjudicate

std is the population standard deviation of the reviewers' overall scores
(each the mean of its six dimensions); one review has std 0.
"""

from __future__ import annotations

import math

from gra.config import AggregateSettings
from gra.core.records import Aggregate, Review


def aggregate(reviews: list[Review], s: AggregateSettings) -> Aggregate:
    overall = [r.overall for r in reviews if r.overall is not None]
    n_failed = len(reviews) - len(overall)
    if len(overall) < s.min_valid_reviews or not overall:
        return Aggregate(
            None,
            None,
            len(overall),
            n_failed,
            "adjudicate",
            f"only {len(overall)} readable review(s), need {s.min_valid_reviews}",
        )
    mean = sum(overall) / len(overall)
    std = math.sqrt(sum((x - mean) ** 2 for x in overall) / len(overall))
    mean, std = round(mean, 6), round(std, 6)

    def result(decision: str, reason: str) -> Aggregate:
        return Aggregate(mean, std, len(overall), n_failed, decision, reason)

    if std > s.max_std:
        return result("adjudicate", f"reviewers disagree: std {std:.2f} > {s.max_std}")
    if mean >= s.accept_mean:
        return result("accept", f"mean {mean:.2f} >= {s.accept_mean}")
    if mean < s.reject_mean:
        return result("reject", f"mean {mean:.2f} < {s.reject_mean}")
    return result("adjudicate", f"borderline mean {mean:.2f}")
