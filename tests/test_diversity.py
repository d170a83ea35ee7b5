"""Diversity metrics pinned to hand-computed values, and ``gra diversity`` end to end."""

from __future__ import annotations

import gzip
import json
import math
import random
import subprocess
import sys
import types
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from gra.cli import diversity as cmd
from gra.cli.app import main
from gra.core.errors import UserError
from gra.curate import diversity as div
from gra.curate.minhash import normalize
from tests.runs import gra_cmd

# ---------------------------------------------------------------- helpers


class FakeEmbedder:
    """Hashed bag of words, L2-normalised: texts sharing words point the same way."""

    name = "fake-bow"
    dim = 16

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, 0] = 0.01
            for w in div.tokenize(text):
                out[i, zlib.crc32(w.encode()) % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def fake_embed(monkeypatch) -> FakeEmbedder:
    """``gra.curate.embed`` replaced by a module whose only embedder is FakeEmbedder."""
    emb = FakeEmbedder()

    def load_embedder(name: str = "fake-bow") -> FakeEmbedder:
        if name != "fake-bow":
            raise UserError(f"unknown embedder {name!r}", "--embedder")
        return emb

    module = types.ModuleType("gra.curate.embed")
    module.DEFAULT_EMBEDDER = "fake-bow"  # type: ignore[attr-defined]
    module.load_embedder = load_embedder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gra.curate.embed", module)
    return emb


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def gra_record(i: int, instruction: str, response: str, generator: str | None) -> dict:
    rec = {"id": f"c{i}", "instruction": instruction, "response": response}
    if generator is not None:
        rec["provenance"] = {"generator": generator}
    return rec


WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi".split()


def random_text(rng: random.Random, k: int) -> str:
    return " ".join(rng.choices(WORDS, k=k))


def naive_distinct(texts: list[str], n: int) -> float | None:
    grams = [
        tuple(toks[i : i + n])
        for toks in map(div.tokenize, texts)
        for i in range(len(toks) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else None


# ---------------------------------------------------------------- tokens, distinct-n


def test_tokens_are_lowercase_words_without_edge_punctuation():
    assert div.tokenize("Hello, World!  It's (fine).") == ["hello", "world", "it's", "fine"]
    assert div.tokenize("  ") == []
    tricky = "Ça va? «Oui» -- 3.14, $5 ... (a) b.c ÉCOLE’s 10%! — ok"
    assert div.tokenize(tricky) == normalize(tricky).split()


def test_distinct_n_hand_made():
    # unigrams a b a | b a: 2 distinct of 5; bigrams ab ba | ba: 2 of 3; trigram aba: 1 of 1
    assert div.distinct_n(["a b a", "b a"]) == {1: 0.4, 2: pytest.approx(2 / 3), 3: 1.0}
    # n-grams stop at the end of a text: no "b c" bigram, no trigram at all
    assert div.distinct_n(["a b", "c d"]) == {1: 1.0, 2: 1.0, 3: None}
    # case and edge punctuation do not make new words: the cat | the cat
    assert div.distinct_n(["The cat.", "the CAT!"], orders=(1, 2)) == {1: 0.5, 2: 0.5}
    assert div.distinct_n([""]) == {1: None, 2: None, 3: None}


def test_distinct_counter_merging_in_chunks_is_exact(monkeypatch):
    monkeypatch.setattr(div.DistinctCounter, "flush_tokens", 7)
    monkeypatch.setattr(div.DistinctCounter, "min_merge", 5)
    rng = random.Random(3)
    texts = [random_text(rng, rng.randint(0, 9)) for _ in range(400)]
    got = div.distinct_n(texts)
    assert got == {n: pytest.approx(naive_distinct(texts, n)) for n in (1, 2, 3)}


def test_distinct_counter_copy_is_independent():
    vocab = div.Vocabulary()
    a = div.DistinctCounter()
    a.add(vocab.ids("x y z".split()))
    b = a.copy()
    b.add(vocab.ids("p q r".split()))
    assert a.distinct_counts() == [3, 2, 1] and a.totals == [3, 2, 1]
    assert b.distinct_counts() == [6, 4, 2] and b.totals == [6, 4, 2]


# ---------------------------------------------------------------- compression


def test_compression_ratio_is_bytes_over_gzip_level_9_of_newline_joined_texts():
    texts = ["the cat sat on the mat"] * 20 + ["a dog", "café ☕"]
    data = "\n".join(texts).encode("utf-8")
    expected = len(data) / len(zlib.compress(data, 9, wbits=31))
    assert div.compression_ratio(texts) == pytest.approx(expected)
    assert len(zlib.compress(data, 9, wbits=31)) == len(gzip.compress(data, 9, mtime=0))
    assert div.compression_ratio(["abc"]) == pytest.approx(3 / len(gzip.compress(b"abc", 9)))


def test_compression_streams_in_chunks_with_the_same_result(monkeypatch):
    rng = random.Random(5)
    texts = [random_text(rng, 30) for _ in range(300)]
    one_shot = div.compression_ratio(texts)
    monkeypatch.setattr(div.GzipRatio, "_chunk_bytes", 50)
    assert div.compression_ratio(texts) == pytest.approx(one_shot, rel=1e-3)
    g = div.GzipRatio()
    for t in texts[:100]:
        g.add(t)
    h = g.copy()
    for t in texts[100:]:
        h.add(t)
    assert g.ratio() == pytest.approx(div.compression_ratio(texts[:100]), rel=1e-3)
    assert h.ratio() == pytest.approx(one_shot, rel=1e-3)
    assert div.compression_ratio(["x"] * 500) > div.compression_ratio(texts)


# ---------------------------------------------------------------- BLEU, self-BLEU


def test_bleu_hand_computed():
    hyp = "the cat sat on the mat".split()
    ref = "the cat is on the mat".split()
    # p1 = 5/6, p2 = 3/5 (the cat, on the, the mat), p3 = 1/4 (on the mat),
    # p4: no match of 3 -> smoothed 0.1/3; equal lengths -> brevity penalty 1
    expected = ((5 / 6) * (3 / 5) * (1 / 4) * (0.1 / 3)) ** 0.25
    assert div.bleu(hyp, [ref]) == pytest.approx(expected)


def test_bleu_clips_by_the_max_count_over_references():
    hyp = "the the the the the the the".split()
    refs = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    # Papineni's example: unigram precision 2/7; no higher-order match (smoothed 0.1/total);
    # closest reference length 7 = hypothesis length -> brevity penalty 1
    expected = ((2 / 7) * (0.1 / 6) * (0.1 / 5) * (0.1 / 4)) ** 0.25
    assert div.bleu(hyp, refs) == pytest.approx(expected)


def test_bleu_brevity_penalty_and_short_hypotheses():
    ref = "the cat sat on the mat".split()
    # p1 = p2 = 1; no 3- or 4-grams in the hypothesis -> 0.1/1 each; BP = exp(1 - 6/2)
    expected = math.exp(-2) * (1 * 1 * 0.1 * 0.1) ** 0.25
    assert div.bleu(["the", "cat"], [ref]) == pytest.approx(expected)
    # closest reference length ties (4 and 6 around 5) go to the shorter: no penalty
    assert div.bleu("a b c d e".split(), ["a b c d".split(), "a b c d e f".split()]) == 1.0
    assert div.bleu([], [ref]) == 0.0
    assert div.bleu(["dog"], [ref]) == 0.0
    assert div.bleu(ref, []) == 0.0


def test_self_bleu_identical_is_one_and_disjoint_is_zero():
    same = ["the quick brown fox jumps".split()] * 5
    assert div.self_bleu(same) == pytest.approx(1.0)
    disjoint = [[f"w{i}_{j}" for j in range(6)] for i in range(5)]
    assert div.self_bleu(disjoint) == 0.0
    assert div.self_bleu(same[:1]) is None


def test_self_bleu_fast_path_equals_bleu_against_all_others():
    rng = random.Random(11)
    vocab = list("abcdef")
    texts = [rng.choices(vocab, k=rng.randint(0, 9)) for _ in range(40)]
    texts += [list("abcd")] * 3 + [list("aaaa"), list("aaab")]  # ties for the top count
    naive = sum(div.bleu(t, texts[:i] + texts[i + 1 :]) for i, t in enumerate(texts))
    assert div.self_bleu(texts) == pytest.approx(naive / len(texts))


# ---------------------------------------------------------------- embeddings


@pytest.mark.parametrize("form", ["auto", "primal", "dual"])
def test_vendi_of_identical_items_is_one(form):
    x = np.tile(np.array([[0.6, 0.8, 0.0]]), (7, 1))
    assert div.vendi_score(x, form) == pytest.approx(1.0)


@pytest.mark.parametrize("form", ["auto", "primal", "dual"])
def test_vendi_of_orthogonal_items_is_n(form):
    assert div.vendi_score(np.eye(6), form) == pytest.approx(6.0)
    assert div.vendi_score(np.eye(10)[:4] * 3.0, form) == pytest.approx(4.0)  # d > n, scaled


def test_vendi_two_equal_clusters_is_two_and_forms_agree_on_random_data():
    x = np.repeat(np.eye(2), 5, axis=0)  # 5 copies each of two orthogonal items
    assert div.vendi_score(x) == pytest.approx(2.0)
    rng = np.random.default_rng(0)
    for n, d in [(40, 8), (6, 20)]:
        e = rng.normal(size=(n, d))
        primal = div.vendi_score(e, "primal")
        assert primal == pytest.approx(div.vendi_score(e, "dual"), rel=1e-9)
        assert 1.0 <= primal <= min(n, d)
    assert div.vendi_score(np.zeros((0, 4))) is None
    with pytest.raises(ValueError):
        div.vendi_score(np.eye(3), "both")


def test_mean_pairwise_cosine_distance():
    assert div.mean_pairwise_cosine_distance(np.ones((5, 3))) == pytest.approx(0.0)
    assert div.mean_pairwise_cosine_distance(np.eye(5)) == pytest.approx(1.0)
    assert div.mean_pairwise_cosine_distance(np.eye(3)[:1]) is None
    rng = np.random.default_rng(1)
    e = rng.normal(size=(30, 5))
    u = e / np.linalg.norm(e, axis=1, keepdims=True)
    sims = [u[i] @ u[j] for i in range(30) for j in range(i + 1, 30)]
    assert div.mean_pairwise_cosine_distance(e) == pytest.approx(1 - np.mean(sims))


# ---------------------------------------------------------------- sampling


def test_reservoir_is_a_fixed_seed_sample_in_stream_order():
    def sample(k: int, seed: int, n: int = 1000) -> list[int]:
        rng = random.Random(seed)
        r: div.Reservoir[int] = div.Reservoir(k)
        for i in range(n):
            r.add(i, rng.random())
        return r.items()

    a = sample(50, 0)
    assert len(a) == 50 and a == sorted(a) and len(set(a)) == 50
    assert a == sample(50, 0) and a != sample(50, 1)
    assert sample(50, 0, n=30) == list(range(30))
    assert sample(0, 0, n=3000) == list(range(3000))
    # every item is about equally likely: mean of a sample of 500 out of 0..999
    assert abs(np.mean(sample(500, 7)) - 499.5) < 40


def test_reservoirs_fed_the_same_priorities_give_nested_samples():
    rng = random.Random(0)
    whole: div.Reservoir[int] = div.Reservoir(20)
    evens: div.Reservoir[int] = div.Reservoir(20)
    for i in range(1000):
        p = rng.random()
        whole.add(i, p)
        if i % 2 == 0:
            evens.add(i, p)
    assert {i for i in whole.items() if i % 2 == 0} <= set(evens.items())


# ---------------------------------------------------------------- the report


def mixed_gra_file(tmp_path: Path) -> tuple[Path, list[dict]]:
    """3 untagged samples, then two generators alternating, then 2 more untagged."""
    rng = random.Random(2)
    gens = [None] * 3 + ["gen-a", "gen-b"] * 10 + [None] * 2
    recs = [gra_record(i, random_text(rng, 6), random_text(rng, 12), g) for i, g in enumerate(gens)]
    return write_jsonl(tmp_path / "data.jsonl", recs), recs


def test_report_rows_per_file_and_per_generator(tmp_path, fake_embed):
    path, recs = mixed_gra_file(tmp_path)
    result = div.report([path], embedder=fake_embed, seed=3)
    rows = result["results"]
    assert [(r["label"], r["generator"], r["n"]) for r in rows] == [
        (str(path), None, 25),
        (f"{path} [gen-a]", "gen-a", 10),
        (f"{path} [gen-b]", "gen-b", 10),
        (f"{path} [(no generator)]", "", 5),
    ]
    assert result["settings"] == {
        "field": "text",
        "seed": 3,
        "bleu_sample": 500,
        "embed_sample": 2000,
        "embedder": "fake-bow",
        "embedding_dim": 16,
    }
    whole = rows[0]
    assert whole["self_bleu_sample"] == whole["embed_sample"] == 25
    # every text is embedded once, though it belongs to two rows
    texts = [f"{r['instruction']}\n{r['response']}" for r in recs]
    assert sorted(fake_embed.embedded) == sorted(texts)
    e = fake_embed.embed(texts)
    assert whole["vendi"] == pytest.approx(div.vendi_score(e))
    assert whole["cosine_distance"] == pytest.approx(div.mean_pairwise_cosine_distance(e))
    assert whole["tokens"] == 25 * 18
    assert whole["distinct_2"] == pytest.approx(naive_distinct(texts, 2))


def test_untagged_row_equals_a_file_of_just_those_samples(tmp_path, fake_embed):
    path, recs = mixed_gra_file(tmp_path)
    untagged = [dict(r, id=f"u{i}") for i, r in enumerate(recs) if "provenance" not in r]
    alone = write_jsonl(tmp_path / "untagged.jsonl", untagged)
    row = div.report([path], embedder=fake_embed)["results"][-1]
    ref = div.report([alone], embedder=fake_embed)["results"]
    assert len(ref) == 1
    for key in ("n", "tokens", "distinct_1", "distinct_2", "distinct_3", "self_bleu", "vendi"):
        assert row[key] == pytest.approx(ref[0][key]), key
    assert row["compression_ratio"] == pytest.approx(ref[0]["compression_ratio"])


def test_report_samples_with_the_seed_and_records_the_sizes(tmp_path):
    rng = random.Random(4)
    recs = [{"instruction": random_text(rng, 5), "output": random_text(rng, 9)} for _ in range(80)]
    path = write_jsonl(tmp_path / "alpaca.jsonl", recs)
    a = div.report([path], bleu_sample=10, seed=1)["results"]
    assert len(a) == 1 and a[0]["generator"] is None
    assert a[0]["self_bleu_sample"] == 10 and "vendi" not in a[0]
    assert a == div.report([path], bleu_sample=10, seed=1)["results"]
    assert (
        a[0]["self_bleu"] != div.report([path], bleu_sample=10, seed=2)["results"][0]["self_bleu"]
    )
    full = div.report([path], bleu_sample=0)["results"][0]
    assert full["self_bleu_sample"] == 80
    assert a[0]["distinct_1"] == full["distinct_1"]  # lexical metrics use every sample


def test_report_field_picks_the_text(tmp_path):
    recs = [{"instruction": "one two", "input": "three", "response": "four five six seven"}]
    path = write_jsonl(tmp_path / "d.jsonl", recs)

    def tokens(field: str) -> int:
        return div.report([path], field=field)["results"][0]["tokens"]

    assert (tokens("instruction"), tokens("response"), tokens("text")) == (3, 4, 7)
    with pytest.raises(ValueError):
        div.report([path], field="title")


# ---------------------------------------------------------------- the command


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gra: error: "), err
    for w in words:
        assert w in lines[0], lines[0]


def test_command_prints_a_table_and_writes_json(tmp_path, capsys, fake_embed, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # table rows on one line each
    path, _ = mixed_gra_file(tmp_path)
    out_json = tmp_path / "report.json"
    code, out, err = run_main(
        ["diversity", str(path), "--bleu-sample", "4", "--json", str(out_json)], capsys
    )
    assert code == 0, err
    for word in ("[gen-a]", "[gen-b]", "[(no generator)]", "Vendi", "self-BLEU", "fake-bow"):
        assert word in out
    report = json.loads(out_json.read_text())
    assert report["settings"]["bleu_sample"] == 4 and report["settings"]["seed"] == 0
    assert [r["self_bleu_sample"] for r in report["results"]] == [4, 4, 4, 4]
    assert report["results"][0]["embed_sample"] == 25


def test_command_json_to_stdout_without_embeddings(tmp_path, capsys):
    path, _ = mixed_gra_file(tmp_path)
    other = write_jsonl(tmp_path / "b.jsonl", [{"instruction": "hi there", "response": "hello"}])
    code, out, err = run_main(
        ["diversity", str(path), str(other), "--no-embeddings", "--json", "-", "--seed", "9"],
        capsys,
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["settings"]["seed"] == 9 and report["settings"]["embedder"] is None
    assert [r["file"] for r in report["results"]] == [str(path)] * 4 + [str(other)]
    assert report["results"][-1]["self_bleu"] is None  # one sample: nothing to compare with
    assert "cosine_distance" not in report["results"][0]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--bleu-sample", "1"], ["--bleu-sample", "at least 2"]),
        (["--bleu-sample", "-5"], ["--bleu-sample"]),
        (["--embed-sample", "1"], ["--embed-sample"]),
        (["--embedder", "fake-bow", "--no-embeddings"], ["--embedder", "not both"]),
        (["--embedder", "nope"], ["--embedder", "nope"]),
        (["--field", "title"], ["title"]),
        (["--bleu-sample", "many"], ["many"]),
        (["--json", "/nonexistent-dir/r.json"], ["--json", "does not exist"]),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, fake_embed, args, words):
    path = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "a", "response": "b"}])
    code, _, err = run_main(["diversity", str(path), *args], capsys)
    assert_one_line_error(code, err, *words)


@pytest.mark.parametrize(
    "content, words",
    [
        ('{"instruction": "a", "response": "b"}\n{oops\n', ["d.jsonl:2", "JSON"]),
        ('{"instruction": "a"}\n', ["d.jsonl:1", "response"]),
        ("", ["d.jsonl", "no records"]),
    ],
)
def test_bad_data_is_a_one_line_error_naming_file_and_line(tmp_path, capsys, content, words):
    (tmp_path / "d.jsonl").write_text(content)
    code, _, err = run_main(["diversity", str(tmp_path / "d.jsonl"), "--no-embeddings"], capsys)
    assert_one_line_error(code, err, *words)


def test_missing_file_or_no_file_exit_2(tmp_path, capsys):
    code, _, err = run_main(["diversity", str(tmp_path / "none.jsonl"), "--no-embeddings"], capsys)
    assert_one_line_error(code, err, "none.jsonl", "not found")
    code, _, err = run_main(["diversity"], capsys)
    assert_one_line_error(code, err, "DATA")


def test_bad_line_in_a_real_process_has_no_traceback(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [{"instruction": "a b", "response": "c"}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "response": "b"}\n[1, 2]\n')
    p = subprocess.run(
        gra_cmd("diversity", good, bad, "--no-embeddings"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert f"{bad}:2" in p.stderr and "Traceback" not in p.stderr


def test_command_defaults_match_the_library():
    assert cmd.DEFAULT_BLEU_SAMPLE == div.DEFAULT_BLEU_SAMPLE
    assert cmd.DEFAULT_EMBED_SAMPLE == div.DEFAULT_EMBED_SAMPLE
    assert cmd.FIELDS == div.FIELDS
    assert cmd.NO_GENERATOR == div.NO_GENERATOR
