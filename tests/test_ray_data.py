"""The dataset commands on Ray Data (gra.curate.ray_data): the same results as on one
machine, on a Ray instance this module starts (two CPUs)."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import ray

import gra
from gra.core.errors import UserError
from gra.curate.ray_data import Pairs, resolve


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _texts(seed: int = 3, n: int = 600) -> list[str]:
    """Short texts: a third exact copies (case and punctuation changed), a third one word
    changed (near copies, some of near copies: chains), the rest new."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)]
    base = [" ".join(rng.choices(words, k=rng.randint(8, 20))) for _ in range(150)]
    out = []
    for _ in range(n):
        t, r = rng.choice(base + out[-20:]), rng.random()
        if r < 0.3:
            t = t.upper() + "!"
        elif r < 0.6:
            ws = t.split()
            ws[rng.randrange(len(ws))] = rng.choice(words)
            t = " ".join(ws)
        elif r < 0.8:
            t = " ".join(rng.choices(words, k=12))
        out.append(t)
    return out


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data") / "shards"
    d.mkdir()
    texts = _texts()
    for k in range(3):
        rows = [
            {"id": f"r{i}", "instruction": t, "response": f"answer {i}"}
            for i, t in enumerate(texts[k * 200 : (k + 1) * 200], start=k * 200)
        ]
        (d / f"part{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_the_first_of_each_group_is_kept_as_on_one_machine():
    # 1 ~ 2 ~ 3 in a chain (1 and 3 not similar): 2 goes, so 3 stays; 4 equals 1 (exact);
    # 6 equals 5, whose near pair 2 was dropped; 7 is as similar to 3 as to 1: the earlier
    pairs = Pairs(
        groups=[[1, 4], [5, 6]],
        near={(1, 2): 0.8, (2, 3): 0.8, (2, 5): 0.9, (1, 7): 0.75, (3, 7): 0.75},
    )
    assert resolve(pairs) == {
        2: (1, "minhash", 0.8),
        4: (1, "exact", 1.0),
        6: (5, "exact", 1.0),
        7: (1, "minhash", 0.75),
    }
    # the best match wins over an earlier one
    assert resolve(Pairs(near={(1, 3): 0.72, (2, 3): 0.9})) == {3: (2, "minhash", 0.9)}


def test_dedup_on_ray_keeps_what_the_local_pass_keeps(cluster, shards):
    local = gra.dedup(shards)
    on_ray = gra.dedup(shards, executor="ray")
    assert [r["id"] for r in on_ray.kept] == [r["id"] for r in local.kept]
    assert on_ray.kept == local.kept
    assert on_ray.summary["groups"] == local.summary["groups"]
    assert on_ray.summary["removed"] == local.summary["removed"]
    removed = local.summary["removed"]
    assert removed["exact"] > 50 and removed["minhash"] > 20  # the data has both kinds
    exact_only = gra.dedup(shards, jaccard=0)
    assert gra.dedup(shards, jaccard=0, executor="ray").kept == exact_only.kept


def test_shards_out_and_one_merged_parquet(cluster, shards, tmp_path):
    local = gra.dedup(shards, tmp_path / "local.jsonl")
    out = tmp_path / "kept"
    r = gra.dedup(shards, out, executor="ray")
    parts = sorted(out.glob("part-*.jsonl"))
    assert parts and not (tmp_path / "kept.partial").exists()
    lines = "".join(p.read_text() for p in parts)
    kept = [json.loads(x) for x in (tmp_path / "local.jsonl").read_text().splitlines()]
    assert [json.loads(x) for x in lines.splitlines()] == kept
    assert json.loads(r.report_path.read_text())["kept"] == local.summary["kept"] == len(kept)
    merged = gra.dedup(shards, tmp_path / "kept.parquet", executor="ray")
    assert pq.read_table(merged.out).to_pylist() == kept


def test_errors_are_one_line_naming_the_file_and_line(cluster, shards, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in shards.iterdir():
        (bad / p.name).write_text(p.read_text())
    with (bad / "part1.jsonl").open("a") as f:
        f.write("{not json\n")
    with pytest.raises(UserError) as e:
        gra.dedup(bad, executor="ray")
    assert e.value.where == f"{bad / 'part1.jsonl'}:201"
    with pytest.raises(UserError, match="cosine stage runs on one machine"):
        gra.dedup(shards, cosine=0.9, executor="ray")
    with pytest.raises(UserError, match="not an empty directory"):
        gra.dedup(shards, shards, executor="ray")


def test_the_cli_on_a_running_cluster(cluster, shards, tmp_path):
    out = tmp_path / "kept.jsonl"
    p = subprocess.run(
        [sys.executable, "-m", "gra.cli.app", "dedup", str(shards), "--out", str(out),
         "--executor", "ray", "--ray-address", cluster],
        capture_output=True, text=True,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"kept {len(gra.dedup(shards).kept)} of 600 samples")
    assert len(out.read_text().splitlines()) == len(gra.dedup(shards).kept)


def _lines(path: Path) -> list[dict]:
    files = sorted(path.glob("part-*.jsonl")) if path.is_dir() else [path]
    return [json.loads(x) for f in files for x in f.read_text().splitlines()]


def _pairs(tmp_path: Path, n: int = 12) -> Path:
    data = tmp_path / "pairs.jsonl"
    rows = [
        {"id": f"p{i}", "instruction": f"Explain topic number {i} to a new student in detail.",
         "response": f"Topic {i} is explained here step by step, with an example."}
        for i in range(n)
    ]  # fmt: skip
    rows[3]["response"] = "As an AI language model, I cannot help with that."  # a check fails
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def test_review_on_ray_data_matches_local_and_replays_its_store(cluster, tmp_path):
    from tests.servers import free_port, server_council, start_fake, stop

    data = _pairs(tmp_path)
    port = free_port()
    server = start_fake(port)
    cfg = server_council(port, concurrency=4)
    stages = ["checks", "council"]
    try:
        local = gra.review(data, tmp_path / "local.jsonl", config=cfg, stages=stages)
        first = gra.review(data, tmp_path / "ray.jsonl", config=cfg, stages=stages,
                           executor="ray", workers=2)  # fmt: skip
    finally:
        stop(server)
    # read and reviewed on the cluster, streamed to the file: the same verdict lines
    assert first.records == [] and first.summary == {**local.summary, "data": str(data)}
    assert first.summary["reviewed"] == 11 and first.summary["review_tokens"] > 0
    assert first.summary["rejected_by"] == {"checks": 1}
    assert _lines(tmp_path / "ray.jsonl") == _lines(tmp_path / "local.jsonl") == local.records
    # the server is gone: a second run on Ray is answered from the store alone, and
    # written as a directory of shards
    again = gra.review(data, tmp_path / "shards", config=cfg, stages=stages, executor="ray",
                       workers=2, store=tmp_path / "ray.calls.sqlite")  # fmt: skip
    assert _lines(tmp_path / "shards") == local.records
    assert again.summary["review_tokens"] == local.summary["review_tokens"]
    assert not (tmp_path / "shards.partial").exists()
    with sqlite3.connect(tmp_path / "ray.calls.sqlite") as db:
        assert db.execute("SELECT MAX(live_calls), COUNT(*) FROM calls").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM calls WHERE owner IS NULL").fetchone() == (0,)
    # in memory without an output
    kept = gra.review(data, config=cfg, stages=stages, executor="ray", workers=1,
                      store=tmp_path / "ray.calls.sqlite")  # fmt: skip
    assert kept.records == local.records


def test_review_mismatch_stage_on_ray_data(cluster, tmp_path):
    # 12 samples are one batch: each is paired as on one machine, so the verdicts match
    data = _pairs(tmp_path)
    rows = [json.loads(x) for x in data.read_text().splitlines()]
    rows[5]["response"], rows[6]["response"] = rows[6]["response"], rows[5]["response"]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    stages = ["checks", "mismatch"]
    local = gra.review(data, tmp_path / "local.jsonl", stages=stages)
    on_ray = gra.review(data, tmp_path / "ray.jsonl", stages=stages, executor="ray", workers=2)
    assert _lines(tmp_path / "ray.jsonl") == local.records
    assert on_ray.summary["rejected_by"] == local.summary["rejected_by"]
    assert all("ifd" in r["mismatch"] for r in local.records if r["decided_by"] != "checks")


def test_select_judge_on_ray_data_matches_local(cluster, tmp_path):
    from tests.servers import free_port, server_council, start_fake, stop

    data = _pairs(tmp_path, 10)
    port = free_port()
    server = start_fake(port)
    cfg = server_council(port, concurrency=4)
    args = dict(method="judge", reviewers=["srv"], config=cfg, top_n=4)
    try:
        local = gra.select(data, cache=tmp_path / "local.sqlite", **args)
        on_ray = gra.select(data, cache=tmp_path / "ray.sqlite", executor="ray", workers=2, **args)
    finally:
        stop(server)
    assert [r["id"] for r in on_ray.selected] == [r["id"] for r in local.selected]
    assert len(local.selected) == 4
    assert [s["score"] for s in on_ray.scores] == [s["score"] for s in local.scores]
    assert sum(s["score"] is not None for s in local.scores) == 9  # one failed a check
    # the server is gone: answered from the driver's store
    again = gra.select(data, cache=tmp_path / "ray.sqlite", executor="ray", workers=2, **args)
    assert [s["score"] for s in again.scores] == [s["score"] for s in local.scores]


def test_a_bad_line_is_one_line_on_stderr_not_rays_traceback(cluster, shards, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text((shards / "part0.jsonl").read_text() + "{not json\n")
    p = subprocess.run(
        [sys.executable, "-m", "gra.cli.app", "dedup", str(bad), "--out", str(tmp_path / "o.jsonl"),
         "--executor", "ray", "--ray-address", cluster],
        capture_output=True, text=True,
    )  # fmt: skip
    assert p.returncode == 2
    assert p.stderr.splitlines() == [
        f"gra: error: {bad}:201: not valid JSON (Expecting property name enclosed in double "
        "quotes at column 2); each line must be one complete JSON object"
    ]
    assert not (tmp_path / "o.jsonl").exists()


def test_select_ifd_on_ray_data_matches_local(cluster, tmp_path):
    # the passes run on two actors, each with its own SmolLM2; the driver keeps the cache,
    # the partners and the ranking
    data = _pairs(tmp_path, 12)
    args = dict(method="ifd", top_n=3)
    local = gra.select(data, cache=tmp_path / "local.sqlite", **args)
    on_ray = gra.select(data, cache=tmp_path / "ray.sqlite", executor="ray", workers=2, **args)
    assert [r["id"] for r in on_ray.selected] == [r["id"] for r in local.selected]
    assert len(local.selected) == 3 and on_ray.dropped == local.dropped
    for a, b in zip(on_ray.scores, local.scores, strict=True):
        assert a["dropped"] == b["dropped"]
        assert (a["score"] is None) == (b["score"] is None)
        if b["score"] is not None:
            assert a["score"] == pytest.approx(b["score"], abs=1e-6)
            assert a["guard"] == pytest.approx(b["guard"], abs=1e-6)
    assert sum(s["score"] is not None for s in local.scores) == 11  # one failed a check
    stored = []  # every pass the Ray run scored is stored by the driver, as locally
    for name in ("local.sqlite", "ray.sqlite"):
        with sqlite3.connect(tmp_path / name) as db:
            stored.append(db.execute("SELECT COUNT(*) FROM ifd_losses").fetchone()[0])
    assert stored[0] == stored[1] >= 11 * 2
