"""``gra diversity --executor ray`` (gra.curate.ray_diversity): the rows of the one-machine
report, on a Ray instance this module starts (two CPUs)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray

import gra
from gra.cli.app import main
from gra.core.errors import UserError

GENERATORS = ("gen-a", "gen-b", "gen-c")
UNTAGGED_FIRST = 15  # rows without a generator before the first named one


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _records(n: int, seed: int = 11) -> list[dict]:
    """gra records: the first rows untagged, then mostly one of three generators (some
    untagged), texts drawn from a small vocabulary with punctuation and case, a third
    repeated from a pool (so distinct-n is well below 1 and gzip finds repeats)."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(120)] + ["Hello,", "WORLD!", "the", "(note)", "Ünïcode"]
    pool = [" ".join(rng.choices(words, k=rng.randint(4, 18))) for _ in range(40)]
    out = []
    for i in range(n):
        fresh = " ".join(rng.choices(words, k=rng.randint(1, 25)))
        text = rng.choice(pool) if rng.random() < 0.35 else fresh
        response = " ".join(rng.choices(words, k=rng.randint(0, 12)))
        rec = {"id": f"r{i}", "instruction": text, "response": response}
        if i >= UNTAGGED_FIRST and rng.random() < 0.8:
            rec["provenance"] = {"generator": rng.choice(GENERATORS)}
        out.append(rec)
    return out


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("div") / "data.jsonl", _records(600))


def assert_same_rows(got: list[dict], want: list[dict], skip: tuple[str, ...] = ()) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert set(g) == set(w), w["label"]
        for key in set(w) - set(skip):
            if isinstance(w[key], float):
                assert g[key] == pytest.approx(w[key], rel=0, abs=1e-12), (w["label"], key)
            else:
                assert g[key] == w[key], (w["label"], key)


def test_ray_rows_equal_the_local_rows(cluster, data, tmp_path):
    # a second file without generators: one row, and its own sample (the seed starts again)
    plain = _write(tmp_path / "plain.jsonl", [
        {"instruction": r["instruction"], "output": r["response"]} for r in _records(90, seed=5)
    ])  # fmt: skip
    kw = {"embedder": False, "bleu_sample": 60, "seed": 4}
    local = gra.diversity(data, plain, **kw)
    on_ray = gra.diversity(data, plain, executor="ray", **kw)
    assert on_ray["settings"] == local["settings"] and on_ray["methods"] == local["methods"]
    rows = local["results"]
    assert [(r["generator"], r["n"]) for r in rows][0] == (None, 600)
    assert [r["generator"] for r in rows] == [None, *GENERATORS, "", None]
    untagged = rows[4]
    assert untagged["n"] > UNTAGGED_FIRST  # those before the first generator, and later ones
    assert sum(r["n"] for r in rows[1:5]) == 600
    assert all(0.05 < r["distinct_3"] < 1 for r in rows[:5]) and rows[0]["self_bleu"] > 0
    assert [r["self_bleu_sample"] for r in rows] == [60] * 6
    other_seed = gra.diversity(plain, embedder=False, bleu_sample=60, seed=5)["results"][0]
    assert other_seed["self_bleu"] != rows[5]["self_bleu"]  # the sample depends on the seed
    assert_same_rows(on_ray["results"], rows)
    # another field and a sample of every text: still the same
    kw = {"embedder": False, "bleu_sample": 0, "field": "response"}
    assert_same_rows(
        gra.diversity(data, executor="ray", **kw)["results"], gra.diversity(data, **kw)["results"]
    )


def test_a_directory_of_parquet_shards_gives_the_rows_of_the_whole_file(cluster, data, tmp_path):
    # every row has the provenance column (null where a record has none): from_pylist takes
    # the columns from the first row, and the first shard's first rows have no generator
    records = [{"provenance": None} | json.loads(x) for x in data.read_text().splitlines()]
    shards = tmp_path / "shards"
    shards.mkdir()
    for k in range(3):
        pq.write_table(pa.Table.from_pylist(records[k * 200 : (k + 1) * 200]),
                       shards / f"part-{k}.parquet")  # fmt: skip
    kw = {"embedder": False, "bleu_sample": 50}
    local = gra.diversity(data, **kw)["results"]
    on_ray = gra.diversity(shards, executor="ray", **kw)["results"]
    assert_same_rows(on_ray, local, skip=("file", "label"))
    assert [r["label"] for r in on_ray][:2] == [str(shards), f"{shards} [gen-a]"]
    assert on_ray[-1]["label"] == f"{shards} [(no generator)]"


def test_a_bad_line_in_a_shard_is_one_line_naming_file_and_line(
    cluster, data, tmp_path, capsys, monkeypatch
):
    bad = tmp_path / "bad"
    bad.mkdir()
    lines = data.read_text().splitlines(keepends=True)
    (bad / "a.jsonl").write_text("".join(lines[:300]))
    (bad / "b.jsonl").write_text("".join(lines[300:]) + "{not json\n")
    with pytest.raises(UserError) as e:
        gra.diversity(bad, embedder=False, executor="ray")
    assert e.value.where == f"{bad / 'b.jsonl'}:301"
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="not records") as e:
        gra.diversity([{"instruction": "a", "response": "b"}], embedder=False, executor="ray")
    assert e.value.where == "executor"
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "ray", None)  # Ray not installed: one line, exit 2
    with pytest.raises(SystemExit) as exit_:
        main(["diversity", str(data), "--no-embeddings", "--executor", "ray"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "gra: error: --executor: Ray is not installed; run: pip install 'gra[ray]'"
    ]


def test_the_cli_prints_the_local_json(cluster, data, capsys):
    args = ["diversity", str(data), "--no-embeddings", "--json", "-", "--bleu-sample", "30"]
    outputs = []
    for extra in ([], ["--executor", "ray", "--workers", "1"]):
        try:
            main([*args, *extra])
        except SystemExit as e:
            assert not e.code, capsys.readouterr().err
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[1] == outputs[0]
    assert outputs[0]["results"][0]["n"] == 600 and len(outputs[0]["results"]) == 5


def test_embeddings_on_ray_actors_match_local(cluster, tmp_path):
    path = _write(tmp_path / "small.jsonl", _records(100, seed=2))
    kw = {"embedder": "minilm", "embed_sample": 50, "bleu_sample": 20}
    local = gra.diversity(path, **kw)
    on_ray = gra.diversity(path, executor="ray", workers=2, **kw)
    assert on_ray["settings"] == local["settings"]
    assert local["settings"]["embedder"] == "minilm" and local["settings"]["embedding_dim"] == 384
    rows = local["results"]
    assert [r["embed_sample"] for r in rows][0] == 50 and len(rows) == 5
    assert all(0 < r["cosine_distance"] < 1 and r["vendi"] > 1 for r in rows)
    for g, w in zip(on_ray["results"], rows, strict=True):
        assert g["embed_sample"] == w["embed_sample"]
        assert g["cosine_distance"] == pytest.approx(w["cosine_distance"], rel=0, abs=1e-5)
        assert g["vendi"] == pytest.approx(w["vendi"], rel=0, abs=1e-5)
    assert_same_rows(on_ray["results"], rows, skip=("cosine_distance", "vendi"))
