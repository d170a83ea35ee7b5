"""Parquet in and out, without Ray: every reader of JSONL reads a .parquet file or a
directory of shards; outputs ending in .parquet, and gra synth --format parquet, write it."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gra.core.errors import UserError
from gra.io.datasets import load_samples
from gra.io.formats import export, write_records_atomic
from gra.io.parquet import write_parquet_atomic
from gra.io.seeds import load_seeds
from tests.runs import assert_user_error, run_gra

ROWS = [
    {
        "id": "a",
        "instruction": "Name the largest planet.",
        "response": "Jupiter.",
        "provenance": {"generator": "qwen2.5-coder-0.5b", "seed_ids": ["s1"]},
    },
    {
        "id": "b",
        "conversations": [
            {"from": "human", "value": "What is 3 + 4?"},
            {"from": "gpt", "value": "3 + 4 = 7."},
        ],
    },
]


def test_records_round_trip_with_their_nested_fields(tmp_path):
    path = tmp_path / "d.parquet"
    assert write_records_atomic(path, ROWS) == 2
    assert pq.read_table(path).num_rows == 2
    samples = load_samples(path)
    assert [(s.id, s.instruction, s.response) for s in samples] == [
        ("a", "Name the largest planet.", "Jupiter."),
        ("b", "What is 3 + 4?", "3 + 4 = 7."),
    ]
    assert samples[0].generator == "qwen2.5-coder-0.5b"  # the struct reads back as a dict
    assert samples[0].where == f"{path}: row 1"


def test_a_column_of_mixed_types_is_written_as_json_text(tmp_path):
    path = tmp_path / "mixed.parquet"
    rows = [{"instruction": "i", "response": "r", "extra": "text"},
            {"instruction": "j", "response": "s", "extra": {"k": 1}}]  # fmt: skip
    write_parquet_atomic(path, rows)
    table = pq.read_table(path)
    assert table.schema.field("extra").type == pa.string()
    assert table.column("extra").to_pylist() == ['"text"', json.dumps({"k": 1})]


def test_a_directory_of_shards_reads_in_name_order(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    write_parquet_atomic(shards / "part-001.parquet", [{"instruction": "second", "response": "2"}])
    write_parquet_atomic(shards / "part-000.parquet", [{"instruction": "first", "response": "1"}])
    samples = load_samples(shards)
    assert [s.instruction for s in samples] == ["first", "second"]
    assert [s.id for s in samples] == ["part-000:1", "part-001:1"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no .parquet or .jsonl shards"):
        load_samples(empty)


def test_seeds_from_parquet_and_errors_name_the_row(tmp_path):
    path = tmp_path / "seeds.parquet"
    write_parquet_atomic(path, [{"instruction": "Add 2 and 2.", "response": "4", "domain": "math"}])
    assert [(s.id, s.domain) for s in load_seeds(path)] == [("seeds:1", "math")]
    write_parquet_atomic(path, [{"instruction": "Add 2 and 2.", "response": ""}])
    with pytest.raises(UserError) as e:
        load_seeds(path)
    assert e.value.where == str(path) and e.value.message.startswith("row 1: ")


def test_a_broken_parquet_file_is_one_line(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(UserError, match="not a readable Parquet file") as e:
        load_samples(path)
    assert e.value.where == str(path) and "\n" not in str(e.value)


def test_dataset_commands_read_and_write_parquet(tmp_path):
    data = tmp_path / "d.parquet"
    rows = [
        {"id": str(i), "instruction": f"Explain topic {i % 3} in one short paragraph.",
         "response": f"Topic {i % 3} is a subject that people study for many reasons."}
        for i in range(6)
    ]  # fmt: skip
    write_parquet_atomic(data, rows)
    out = tmp_path / "dedup.parquet"
    p = run_gra("dedup", data, "--out", out)
    assert p.returncode == 0, p.stderr
    assert pq.read_table(out).column("id").to_pylist() == ["0", "1", "2"]
    sel = tmp_path / "sel.parquet"
    p = run_gra("select", out, "--out", sel, "--method", "none", "--top-n", "2")
    assert p.returncode == 0, p.stderr
    assert pq.read_table(sel).num_rows == 2
    assert (tmp_path / "sel.scores.jsonl").is_file()  # the side files stay JSONL
    assert_user_error(run_gra("dedup", tmp_path / "d.csv", "--out", out), "d.csv", "not found")


def test_a_run_exports_parquet(tmp_path):
    records = [{"id": "c000001", "instruction": "Say hi.", "input": "", "response": "Hi!",
                "provenance": {"reviews": [{"scores": {"clarity": 8}}]}}]  # fmt: skip
    path = export(records, tmp_path, "parquet")
    assert path.name == "data.parquet"
    assert pq.read_table(path).to_pylist()[0]["provenance"]["reviews"][0]["scores"] == {
        "clarity": 8
    }
