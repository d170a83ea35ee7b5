"""Reading from Hugging Face datasets: save_to_disk directories and hf:datasets/OWNER/NAME
specs (offline: one line), with column mapping for datasets whose names differ."""

from __future__ import annotations

import json
import os

import datasets
import pytest

import gra
from gra.core.errors import UserError
from gra.io.datasets import load_samples
from gra.io.seeds import load_seeds
from tests.runs import assert_user_error, run_gra

QA = [
    {"question": "What is the capital of France?", "answer": "Paris.", "topic": "geo"},
    {"question": "What is 6 x 7?", "answer": "6 x 7 = 42.", "topic": "math"},
    {"question": "What is the capital of France?", "answer": "Paris.", "topic": "geo"},
]
PAIRS = [{"instruction": q["question"], "response": q["answer"], "domain": q["topic"]} for q in QA]


def test_a_save_to_disk_directory_reads_like_a_file(tmp_path):
    datasets.Dataset.from_list(PAIRS).save_to_disk(tmp_path / "ds")
    samples = load_samples(tmp_path / "ds")
    assert [s.instruction for s in samples] == [p["instruction"] for p in PAIRS]
    assert samples[0].id == "ds:1" and samples[0].where == f"{tmp_path / 'ds'}: row 1"
    seeds = load_seeds(tmp_path / "ds")
    assert [s.domain for s in seeds] == ["geo", "math", "geo"]


def test_a_dataset_dict_gives_its_train_split_or_says_which_to_save(tmp_path):
    d = datasets.DatasetDict({"train": datasets.Dataset.from_list(PAIRS[:2]),
                              "test": datasets.Dataset.from_list(PAIRS[2:])})  # fmt: skip
    d.save_to_disk(tmp_path / "dd")
    assert len(load_samples(tmp_path / "dd")) == 2
    two = datasets.DatasetDict({"a": d["train"], "b": d["test"]})
    two.save_to_disk(tmp_path / "two")
    with pytest.raises(UserError, match="holds splits a, b"):
        load_samples(tmp_path / "two")


def test_column_mapping_reads_datasets_whose_names_differ(tmp_path):
    datasets.Dataset.from_list(QA).save_to_disk(tmp_path / "qa")
    fields = {"instruction": "question", "response": "answer"}
    unique = gra.dedup(tmp_path / "qa", fields=fields)
    assert unique.summary["read"] == 3 and unique.summary["kept"] == 2
    assert unique.kept[0]["question"] == QA[0]["question"]  # the records keep their columns
    with pytest.raises(UserError, match='no "prompt" column \\(given as the instruction field\\)'):
        gra.dedup(tmp_path / "qa", fields={"instruction": "prompt", "response": "answer"})
    with pytest.raises(UserError, match="can map"):
        gra.dedup(QA, fields={"question": "instruction"})
    out = tmp_path / "unique.jsonl"
    p = run_gra("dedup", tmp_path / "qa", "--out", out,
                "--instruction-field", "question", "--response-field", "answer")  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert [json.loads(x)["answer"] for x in out.read_text().splitlines()] == [
        "Paris.",
        "6 x 7 = 42.",
    ]


def test_hub_specs_offline_are_one_line(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith("HF_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = tmp_path / "o.jsonl"
    p = run_gra("dedup", "hf:datasets/someone/not-cached:train", "--out", out)
    assert_user_error(p, "hf:datasets/someone/not-cached:train", "cannot load the dataset")
    assert not out.exists()
    assert_user_error(run_gra("dedup", "hf:datasets/", "--out", out), "hf:datasets/OWNER/NAME")
