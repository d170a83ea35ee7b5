"""Selection algorithms against brute force and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from gra.curate.subset import budget_size, deita_greedy, facility_location, rank_by_score


def unit(rows) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_budget_and_ranking():
    assert budget_size(10) == 10
    assert budget_size(10, top_n=3) == 3
    assert budget_size(10, top_n=30) == 10
    assert budget_size(10, top_percent=25) == 3  # ceil(2.5)
    assert budget_size(10, top_percent=0) == 0
    assert rank_by_score([0.5, None, 0.9, 0.5, float("nan")]) == [2, 0, 3]
    assert rank_by_score([0.5, 0.1, 0.9], descending=False) == [1, 0, 2]


def test_deita_skips_near_copies_of_kept_items():
    emb = unit([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0.95, 0.3], [0, 0, 1]])
    # best first: 0, 1 (too close to 0), 2, 3 (cos 0.95 to 2), 4
    assert deita_greedy([0, 1, 2, 3, 4], emb, tau=0.9) == [0, 2, 4]
    assert deita_greedy([0, 1, 2, 3, 4], emb, tau=0.99) == [0, 2, 3, 4]
    assert deita_greedy([0, 1, 2, 3, 4], emb, tau=0.9, budget=2) == [0, 2]
    assert deita_greedy([], emb) == []


def naive_facility(emb: np.ndarray, budget: int) -> list[int]:
    sim = (1 + emb @ emb.T) / 2
    chosen: list[int] = []
    cover = np.zeros(len(emb))
    for _ in range(budget):
        gains = [
            -1.0 if j in chosen else float(np.maximum(sim[:, j] - cover, 0).sum())
            for j in range(len(emb))
        ]
        j = int(np.argmax(gains))
        chosen.append(j)
        cover = np.maximum(cover, sim[:, j])
    return chosen


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_facility_location_matches_plain_greedy(seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(5, 16))
    emb = unit(np.repeat(centers, 12, axis=0) + 0.3 * rng.normal(size=(60, 16)))
    assert facility_location(emb, 8) == naive_facility(emb, 8)


def test_facility_location_covers_clusters_and_respects_candidates():
    emb = unit([[1, 0], [0.98, 0.2], [0.97, -0.2], [-1, 0.05], [-0.98, -0.2]])
    two = facility_location(emb, 2)
    assert {0, 1, 2} & set(two) and {3, 4} & set(two)  # one from each side
    assert set(facility_location(emb, 2, candidates=[0, 1, 2])) <= {0, 1, 2}
    assert facility_location(emb, 0) == []
    assert len(facility_location(emb, 10)) == 5
