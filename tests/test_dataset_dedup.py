"""gra dedup: what is removed, why, and the command's files and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gra.curate.dedup import DedupOptions, DedupStats, dedup_samples
from gra.io.datasets import Sample
from tests.runs import assert_user_error, run_gra

LONG = "explain how a binary search tree keeps its keys ordered and why lookups are fast"


def samples(*instructions: str) -> list[Sample]:
    return [Sample(id=f"s{i}", instruction=t, response="r") for i, t in enumerate(instructions)]


def run(items: list[Sample], opts: DedupOptions, embed=None):
    removals, stats = [], DedupStats()
    kept = [s.id for s in dedup_samples(items, opts, removals, stats, embed)]
    return kept, {(r.dropped, r.kept, r.method) for r in removals}, stats


def test_exact_minhash_and_first_kept():
    items = samples(
        LONG,
        LONG.upper() + "!",  # same normalised text
        LONG.replace("fast", "quick"),  # one word changed: Jaccard 13/15 shingles
        "write a haiku about autumn leaves falling on a quiet pond",
    )
    kept, removed, stats = run(items, DedupOptions())
    assert kept == ["s0", "s3"]
    assert removed == {("s1", "s0", "exact"), ("s2", "s0", "minhash")}
    assert (stats.read, stats.kept, stats.removed["exact"], stats.removed["minhash"]) == (
        4,
        2,
        1,
        1,
    )


def test_minhash_off_keeps_near_duplicates_and_threshold_is_respected():
    items = samples(LONG, LONG.replace("fast", "quick"))
    assert run(items, DedupOptions(jaccard=0))[0] == ["s0", "s1"]
    assert run(items, DedupOptions(jaccard=0.95))[0] == ["s0", "s1"]
    assert run(items, DedupOptions(jaccard=0.8))[0] == ["s0"]


def test_cosine_stage_against_kept_samples_across_batches():
    vec = {
        "a": [1, 0, 0],
        "a2": [0.95, 0.312, 0],
        "b": [0, 1, 0],
        "c": [0, 0, 1],
        "c2": [0, 0.1, 0.995],
    }

    def embed(texts):
        m = np.array([vec[t] for t in texts], dtype=np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    items = samples("a", "b", "a2", "c", "c2")
    # batch 2: "a2" is checked against the first batch, "c2" inside its own batch
    kept, removed, stats = run(items, DedupOptions(jaccard=0, cosine=0.9, batch=2), embed)
    assert kept == ["s0", "s1", "s3"]
    assert removed == {("s2", "s0", "cosine"), ("s4", "s3", "cosine")}
    assert stats.removed["cosine"] == 2


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_command_writes_records_unchanged_and_a_report(tmp_path):
    rows = [
        {"id": "a", "instruction": LONG, "output": "x", "extra": [1, 2]},
        {"id": "b", "instruction": LONG + ".", "output": "y"},
        {
            "id": "c",
            "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}],
        },
    ]
    data = write(tmp_path / "in.jsonl", rows)
    p = run_gra("dedup", data, "--out", tmp_path / "out.jsonl")
    assert p.returncode == 0, p.stderr
    assert "kept 2 of 3 samples; removed 1 (1 exact)" in p.stdout
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert out == [rows[0], rows[2]]
    report = json.loads((tmp_path / "out.dedup.json").read_text())
    assert report["groups"] == [
        {"kept": "a", "dropped": [{"id": "b", "method": "exact", "similarity": 1.0}]}
    ]
    assert (report["read"], report["kept"]) == (3, 2)


def test_command_errors_leave_existing_output_alone(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    bad = write(tmp_path / "bad.jsonl", [{"instruction": "q", "response": "r"}])
    with bad.open("a") as f:
        f.write("{broken\n")
    assert_user_error(run_gra("dedup", bad, "--out", out), "bad.jsonl:2", "JSON")
    assert out.read_text() == "precious\n"
    assert_user_error(run_gra("dedup", bad, "--out", bad), "--out", "input file")
    assert_user_error(
        run_gra("dedup", tmp_path / "nope.jsonl", "--out", out), "nope.jsonl", "not found"
    )
    assert_user_error(run_gra("dedup", bad, "--out", out, "--jaccard", "2"), "--jaccard")
    assert_user_error(run_gra("dedup", bad, "--out", out, "--embedder", "x"), "--embedder")
