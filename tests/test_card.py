"""A run directory is a Hugging Face dataset: its README.md card has valid YAML front
matter that datasets.load_dataset follows to the accepted rows, offline."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import yaml
from huggingface_hub import DatasetCard

from gra.config import load_config
from gra.core.records import Seed
from gra.core.store import Store
from gra.council.caller import Caller
from gra.council.pool import ModelPool
from gra.io.formats import write_jsonl_atomic
from gra.synthesis.pipeline import Budget, Synth
from gra.synthesis.writer import write_outputs
from tests.fakes import FakeLoader

SEEDS = [
    Seed(f"s:{d}{i}", f"Seed task {d} number {i} about {d}.", f"Answer {i}.", d)
    for d in ("math", "code")
    for i in range(3)
]


def finished_run(tmp_path, target=3):
    data = {
        "aggregate": {"rule": "mean_std", "accept_mean": 7.0, "reject_mean": 5.0},
        "card": {"license": "apache-2.0", "name": "tiny-council-data"},
    }
    cfg = load_config(data=data)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    write_jsonl_atomic(run_dir / "seeds.jsonl", (s.to_dict() for s in SEEDS))
    store = Store(run_dir / "run.sqlite")
    store.set_meta("options", {"target": target, "max_candidates": 20, "max_tokens": 0})
    synth = Synth(
        cfg, SEEDS, store, Caller(ModelPool(cfg, loader=FakeLoader(score=lambda r: 9)), store)
    )
    stop = asyncio.run(synth.run(Budget(target, 20, 0)))
    summary = write_outputs(store, run_dir, [], {"stop_reason": stop})
    store.close()
    return run_dir, summary


def test_the_card_has_valid_front_matter_and_says_what_the_run_did(tmp_path):
    run_dir, summary = finished_run(tmp_path)
    text = (run_dir / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data.jsonl"}]}
    ]
    assert meta["license"] == "apache-2.0" and meta["tags"] == ["synthetic", "gra"]
    assert meta["size_categories"] == ["n<1K"] and meta["task_categories"] == ["text-generation"]
    card = DatasetCard(text)  # the Hub's own parser of card metadata
    assert card.data.license == "apache-2.0" and card.data.pretty_name == "tiny-council-data"
    body = card.text
    parts = [
        "## The council",
        "## How the candidates fared",
        "## Diversity against the seeds",
        "## Reproduce",
        "| accepted | 3 |",
        "`review@",
        "gra synth seeds.jsonl",
    ]
    for part in parts:
        assert part in body, part
    assert summary["counts"]["accepted"] == 3


def test_load_dataset_reads_the_accepted_rows_offline(tmp_path):
    run_dir, _ = finished_run(tmp_path)
    code = (
        "import json, sys\n"
        "from datasets import load_dataset\n"
        "ds = load_dataset(sys.argv[1], split='train')\n"
        "print(json.dumps({'n': len(ds), 'columns': ds.column_names,"
        " 'first': ds[0]['instruction']}))\n"
    )
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf")}  # fmt: skip
    p = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True,
                       text=True, env=env, timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout.strip().splitlines()[-1])
    rows = [json.loads(x) for x in (run_dir / "data.jsonl").read_text().splitlines()]
    assert got["n"] == len(rows) == 3
    assert {"instruction", "response", "provenance", "id"} <= set(got["columns"])
    assert got["first"] == rows[0]["instruction"]


def test_a_card_that_cannot_be_written_costs_a_warning_not_the_run(tmp_path, monkeypatch, caplog):
    from gra.synthesis import writer

    def broken(*args):
        raise ValueError("no card today")

    monkeypatch.setattr(writer, "write_card", broken)
    run_dir, summary = finished_run(tmp_path)
    assert (run_dir / "summary.json").is_file() and summary["counts"]["accepted"] == 3
    assert not (run_dir / "README.md").exists()
    assert "dataset card not written (ValueError: no card today)" in caplog.text
