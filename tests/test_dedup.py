"""Tests for gra.curate.minhash: normalisation, shingles, MinHash and the near-duplicate index."""

from __future__ import annotations

import random

import numpy as np
import pytest

from gra.curate.minhash import (
    MinHasher,
    NearDupIndex,
    estimate_jaccard,
    jaccard,
    normalize,
    optimal_bands,
    shingles,
)


def _words(rng: random.Random, n: int) -> list[str]:
    """``n`` distinct random lowercase words."""
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)))
    return sorted(out, key=lambda _: rng.random())


def _overlap_pair(shared: int, extra: int, seed: int = 7) -> tuple[str, str]:
    """Two texts of distinct words sharing their first ``shared`` words.

    Each has ``shared + extra`` words; with 3-shingles they share ``shared - 2``
    of their ``shared + extra - 2`` shingles each.
    """
    ws = _words(random.Random(seed), shared + 2 * extra)
    a = ws[: shared + extra]
    b = ws[:shared] + ws[shared + extra :]
    return " ".join(a), " ".join(b)


# --- normalize / shingles / jaccard -------------------------------------------------


def test_normalize_trivial_edits() -> None:
    assert normalize("  Hello,   WORLD!  \n How are\tyou? ") == "hello world how are you"
    assert normalize("«Straße» — ok...") == "strasse ok"
    assert normalize("don't stop") == "don't stop"  # inner punctuation kept
    assert normalize("") == ""


def test_shingles_basic() -> None:
    assert shingles("") == set()
    assert shingles("   ?! ") == set()
    assert len(shingles("one two")) == 1  # shorter than n: one shingle of the whole text
    assert shingles("one two") == shingles("One, two!")
    assert len(shingles("a b c d e")) == 3
    assert len(shingles("a b c d e", n=1)) == 5
    assert all(isinstance(h, int) and 0 <= h < 2**64 for h in shingles("a b c d e"))
    with pytest.raises(ValueError):
        shingles("a b", n=0)


def test_shingles_stable_values() -> None:
    # blake2b-based, so values never change between processes or runs.
    assert shingles("Hello, big World!") == {5315237212582805395}
    assert shingles("a b c d") == {8388279268673178672, 12861280850298458046}
    assert shingles("a b c") == shingles("A  b, c.")


def test_jaccard_edge_cases() -> None:
    assert jaccard(set(), set()) == 1.0
    assert jaccard({1}, set()) == 0.0
    assert jaccard(set(), {1}) == 0.0
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    assert jaccard({1, 2}, {1, 2}) == 1.0


# --- MinHash ---------------------------------------------------------------------------


def test_minhash_deterministic_across_instances() -> None:
    s = shingles("the quick brown fox jumps over the lazy dog again and again")
    a, b = MinHasher(128, seed=1), MinHasher(128, seed=1)
    sig = a.signature(s)
    assert sig.dtype == np.uint64 and sig.shape == (128,)
    assert np.array_equal(sig, b.signature(s))
    assert not np.array_equal(sig, MinHasher(128, seed=2).signature(s))


def test_minhash_empty_set() -> None:
    m = MinHasher(16)
    assert np.array_equal(m.signature(set()), m.signature(set()))
    assert estimate_jaccard(m.signature(set()), m.signature(set())) == 1.0


@pytest.mark.parametrize("shared,extra", [(40, 5), (30, 20), (20, 30), (52, 0), (10, 60)])
def test_minhash_estimates_jaccard(shared: int, extra: int) -> None:
    a, b = _overlap_pair(shared, extra)
    sa, sb = shingles(a), shingles(b)
    m = MinHasher(256, seed=3)
    est = estimate_jaccard(m.signature(sa), m.signature(sb))
    assert est == pytest.approx(jaccard(sa, sb), abs=0.1)


def test_minhash_rejects_bad_num_perm() -> None:
    with pytest.raises(ValueError):
        MinHasher(0)


# --- LSH parameters ----------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.9, 1.0])
@pytest.mark.parametrize("num_perm", [16, 64, 128, 200])
def test_bands_rows_fit(threshold: float, num_perm: int) -> None:
    b, r = optimal_bands(threshold, num_perm)
    assert b >= 1 and r >= 1 and b * r <= num_perm
    idx = NearDupIndex(threshold=threshold, num_perm=num_perm)
    assert idx.bands * idx.rows <= num_perm


def test_bands_rows_match_reference() -> None:
    # Values datasketch's MinHashLSH picks (equal fp/fn weights, scipy quad).
    assert optimal_bands(0.5, 128) == (25, 5)
    assert optimal_bands(0.7, 128) == (14, 9)
    assert optimal_bands(0.9, 128) == (5, 25)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.01])
def test_threshold_validated(threshold: float) -> None:
    with pytest.raises(ValueError):
        NearDupIndex(threshold=threshold)


# --- NearDupIndex ------------------------------------------------------------------------


def test_exact_duplicates_caught() -> None:
    idx = NearDupIndex(threshold=0.7)
    idx.add("a", "What is the capital of France?")
    assert idx.query("what is   the CAPITAL of france") == ("a", 1.0)
    assert idx.query("  What is the capital of France?!\n") == ("a", 1.0)
    assert idx.query("What is the capital of Spain?") is None


def test_near_copy_one_word_changed() -> None:
    ws = _words(random.Random(11), 41)
    a = " ".join(ws[:40])
    b_words = ws[:40]
    b_words[20] = ws[40]
    b = " ".join(b_words)
    idx = NearDupIndex(threshold=0.7)
    idx.add("orig", a)
    match = idx.query(b)
    assert match is not None
    key, sim = match
    assert key == "orig"
    assert sim == jaccard(shingles(a), shingles(b))
    assert 0.7 <= sim < 1.0


def test_unrelated_texts_not_reported() -> None:
    rng = random.Random(5)
    idx = NearDupIndex(threshold=0.7)
    ws = _words(rng, 200)
    idx.add("x", " ".join(ws[:40]))
    idx.add("y", " ".join(ws[40:80]))
    assert idx.query(" ".join(ws[80:120])) is None
    assert idx.query("a completely different sentence about cooking pasta") is None


def _colliding_index(threshold: float, indexed: str, query: str) -> NearDupIndex:
    """An index holding ``indexed`` whose LSH bands collide with ``query``.

    Near the threshold LSH recall is well below 1, so try MinHash seeds until the
    pair shares a band; this makes the Jaccard re-check the only thing under test.
    """
    for seed in range(1, 200):
        idx = NearDupIndex(threshold=threshold, seed=seed)
        idx.add("a", indexed)
        if "a" in idx.candidates(query):
            return idx
    raise AssertionError("no seed made LSH collide")


def test_just_below_threshold_not_reported_even_on_lsh_collision() -> None:
    # 41 shared shingles of 50 each: J = 41 / 59 ~= 0.695, just below 0.7.
    a, b = _overlap_pair(shared=43, extra=9)
    true_j = jaccard(shingles(a), shingles(b))
    assert true_j == pytest.approx(41 / 59)
    idx = _colliding_index(0.7, a, b)
    assert "a" in idx.candidates(b)  # LSH does collide...
    assert idx.query(b) is None  # ...but the true-Jaccard re-check rejects it
    assert idx.check_and_add("b", b) is None and len(idx) == 2
    # A slightly lower threshold accepts the same pair, with its true similarity.
    low = _colliding_index(0.69, a, b)
    assert low.query(b) == ("a", true_j)


def test_just_above_threshold_reported() -> None:
    # 42 shared shingles of 50 each: J = 42 / 58 ~= 0.724.
    a, b = _overlap_pair(shared=44, extra=8)
    true_j = jaccard(shingles(a), shingles(b))
    assert true_j == pytest.approx(42 / 58)
    idx = _colliding_index(0.7, a, b)
    assert idx.query(b) == ("a", true_j)


def test_query_returns_best_candidate() -> None:
    ws = _words(random.Random(21), 60)
    base = ws[:40]
    far = base[:36] + ws[40:44]  # shares less
    near = base[:39] + ws[44:45]  # shares more
    idx = NearDupIndex(threshold=0.6)
    idx.add("far", " ".join(far))
    idx.add("near", " ".join(near))
    match = idx.query(" ".join(base))
    assert match is not None and match[0] == "near"


def test_check_and_add() -> None:
    idx = NearDupIndex()
    assert idx.check_and_add("1", "Explain photosynthesis in simple terms.") is None
    assert len(idx) == 1 and "1" in idx
    assert idx.check_and_add("2", "explain photosynthesis in simple terms") == ("1", 1.0)
    assert len(idx) == 1 and "2" not in idx
    assert idx.check_and_add("3", "Write a haiku about the sea.") is None
    assert len(idx) == 2


def test_duplicate_key_rejected() -> None:
    idx = NearDupIndex()
    idx.add("k", "one text")
    with pytest.raises(ValueError):
        idx.add("k", "another text")


def test_empty_texts() -> None:
    idx = NearDupIndex()
    assert idx.check_and_add("e", "") is None
    assert idx.query("  ... ") == ("e", 1.0)
    assert idx.query("something real here") is None


def test_large_index_self_queries() -> None:
    rng = random.Random(1234)
    vocab = _words(rng, 5000)
    texts = [" ".join(rng.choices(vocab, k=rng.randint(15, 40))) for _ in range(2000)]
    idx = NearDupIndex(threshold=0.7)
    for i, t in enumerate(texts):
        idx.add(str(i), t)
    assert len(idx) == 2000
    for i, t in enumerate(texts):
        assert idx.query(t) == (str(i), 1.0)
    # Near copies (last word changed) are found via LSH, never a wrong item.
    found = 0
    for i in range(0, 2000, 20):
        words = texts[i].split()
        words[-1] = "zzzzzzzz"
        match = idx.query(" ".join(words))
        if match is not None:
            assert match[0] == str(i)
            found += 1
    assert found >= 90  # of 100; J >= ~0.85 makes an LSH miss very unlikely


def test_recall_near_the_threshold() -> None:
    # Pairs with true Jaccard 42/58 ~= 0.724, just above 0.7, over 50 MinHash seeds:
    # the recall-weighted banding must find nearly all of them (analytic: ~0.95).
    found = 0
    for seed in range(50):
        a, b = _overlap_pair(shared=44, extra=8, seed=seed)
        idx = NearDupIndex(threshold=0.7, seed=seed)
        idx.add("a", a)
        found += idx.query(b) is not None
    assert found >= 42
