"""A run directory written by an older gra still opens, resumes and reports.

``fixtures/run_before_refactor`` is a real run made before the package layout and the
store's migrations (``gra synth examples/seeds.jsonl --n 2 --max-candidates 6`` on
Qwen2.5-Coder-0.5B with tests.councils.fast_roles, n_ctx 1024): 4 candidates, 2 accepted,
2 rejected by the checks, 1 left unfinished, store schema 1.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.runs import run_gra, snapshot

FIXTURE = Path(__file__).parent / "fixtures" / "run_before_refactor"


@pytest.mark.model
def test_a_run_written_before_the_refactor_resumes_and_reports(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    accepted, keys = snapshot(run / "run.sqlite")
    old_summary = json.loads((run / "summary.json").read_text())
    assert len(accepted) == 2 and keys

    p = run_gra("report", run, "--no-embeddings")
    assert p.returncode == 0, p.stderr
    assert (run / "report.html").stat().st_size > 10_000

    p = run_gra("synth", "--resume", run, "--n", 3, "--max-candidates", 5)
    assert p.returncode == 0, p.stderr
    accepted_after, keys_after = snapshot(run / "run.sqlite")
    # nothing lost: the old accepted samples and every stored call are still there
    assert accepted.items() <= accepted_after.items()
    assert keys <= keys_after
    summary = json.loads((run / "summary.json").read_text())
    # every key the old summary had, plus where the work ran (added with the Ray executor),
    # the generators' picks (adaptive routing) and the task (preference pairs)
    assert set(summary) - set(old_summary) == {"executor", "routing", "task"}
    assert set(old_summary) <= set(summary)
    assert summary["executor"] == {"kind": "local"}
    assert summary["sessions"] == 2 and summary["counts"]["candidates"] >= 4
    db = sqlite3.connect(run / "run.sqlite")
    try:
        # no stored call was made again
        assert db.execute("SELECT MAX(live_calls) FROM calls").fetchone() == (1,)
    finally:
        db.close()
