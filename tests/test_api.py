"""The public API: what ``import gra`` gives, and README's "From Python" block, run as
it is."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gra

ROOT = Path(__file__).resolve().parents[1]


def python_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_the_api_names_resolve_and_all_is_complete():
    assert gra.__all__[0] == "__version__"
    for name in gra.__all__:
        assert getattr(gra, name) is not None, name
    with pytest.raises(AttributeError):
        gra.not_a_name  # noqa: B018


def test_config_as_path_dict_or_config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("aggregate:\n  accept_p: 0.5\n")
    from_path = gra.load_config(path)
    from_dict = gra.load_config({"aggregate": {"accept_p": 0.5}})
    assert from_path.aggregate.accept_p == from_dict.aggregate.accept_p == 0.5
    assert gra.load_config(from_dict) is from_dict
    assert gra.load_config(None).to_dict() == gra.Config().to_dict()


def test_library_errors_name_the_argument_and_write_nothing(tmp_path):
    pairs = [{"instruction": "What is 2 + 2?", "response": "4."}]
    with pytest.raises(gra.UserError) as e:
        gra.select(pairs, tmp_path / "o.jsonl", method="none", top_n=1, top_percent=5)
    assert e.value.where == "top_n" and "top_percent" in e.value.message
    with pytest.raises(gra.UserError) as e:
        gra.dedup([{"instruction": "no response here"}])
    assert e.value.where == "data[0]" and "response" in e.value.message
    with pytest.raises(gra.UserError) as e:
        gra.synth([{"instruction": "Say hi.", "response": ""}], tmp_path / "run")
    assert e.value.where == "seeds" and "item 1" in e.value.message
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "run").exists()


def test_in_memory_records_and_paths_give_the_same_result(tmp_path):
    rows = [
        {"id": "a", "instruction": "Name a prime number above 10.", "response": "11 is prime."},
        {"id": "b", "instruction": "Name a prime number above 10.", "response": "11 is prime."},
        {"id": "c", "instruction": "Spell 'cat' backwards.", "response": "tac"},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(__import__("json").dumps(r) + "\n" for r in rows))
    from_memory = gra.dedup(rows)
    from_file = gra.dedup(path, tmp_path / "out.jsonl")
    assert [r["id"] for r in from_memory.kept] == ["a", "c"]
    assert (tmp_path / "out.jsonl").read_text().count("\n") == 2
    assert from_memory.summary["kept"] == from_file.summary["kept"] == 2


@pytest.mark.model
def test_readme_from_python_block_runs(tmp_path):
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "seeds.jsonl", tmp_path / "examples")
    (tmp_path / "demo.py").write_text(python_block("From Python"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.run(
        [sys.executable, "demo.py"], cwd=tmp_path, capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert re.match(
        r"(max candidates reached \(4\)|target reached \(1 accepted\)) \| accepted", lines[0]
    )
    assert lines[1:] == [
        "3 read, 2 kept",
        "['accept', 'accept']",
        "Name the largest planet in the solar system.",
        lines[4],
        "error: config: setting 'aggregate.accept_p' must be between 0 and 1 (a probability)",
    ]
    assert 0 < float(lines[4]) <= 1
    assert (tmp_path / "runs" / "from-python" / "summary.json").is_file()
