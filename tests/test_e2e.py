"""End to end on the real embedded models: a small synth run, and a SIGKILL + resume.

These use SmolLM2-135M (and Qwen2.5-0.5B as a reviewer/adjudicator) on a
handful of seeds with short outputs, so they take about a minute in all.
The thresholds are loose on purpose: what is tested is the machinery
(roles, provenance, store, resume), not the small models' judgement.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from gra.core.records import DIMENSIONS
from tests.runs import gra_cmd, snapshot, synth_cmd

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[1]

FAST = """
generation: {models: [smollm2-135m], examples: 2, response_max_tokens: 200,
             instruction_max_tokens: 80}
review: {models: [smollm2-135m], reviewers: 2, max_tokens: 160, sure_margin: -1.0}
adjudication: {models: [smollm2-135m], max_tokens: 120}
tagging: {model: smollm2-135m, tag_outputs: false, max_tokens: 100}
aggregate: {rule: mean_std, accept_mean: 1.0, reject_mean: 1.0, max_std: 9.0}
executor: {concurrency: 2}
# the machinery under test, not SmolLM2's tasks: the checks for what small generators
# write would reject most of them, and the run would need many more candidates
checks: {disabled: [prompt_leak, task_about_itself, deflection, restates_task, not_a_request,
                    missing_input, too_short]}
"""


@pytest.fixture
def seeds(tmp_path) -> Path:
    lines = (ROOT / "examples" / "seeds.jsonl").read_text().splitlines()
    by_domain: dict[str, list[str]] = {}
    for line in lines:
        by_domain.setdefault(json.loads(line)["domain"], []).append(line)
    picked = [x for d in ("math", "writing", "everyday") for x in by_domain[d][:2]]
    p = tmp_path / "seeds.jsonl"
    p.write_text("\n".join(picked) + "\n")
    return p


def gra(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        gra_cmd(*args),
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def read_jsonl(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()]


def test_synth_with_two_models_writes_data_formats_and_summary(tmp_path, seeds):
    cfg = tmp_path / "council.yaml"
    cfg.write_text(
        FAST
        + """
review: {models: [qwen2.5-coder-0.5b, smollm2-135m], reviewers: 2, max_tokens: 160,
         sure_margin: -1.0}
adjudication: {models: [qwen2.5-coder-0.5b], max_tokens: 120}
tagging: {model: smollm2-135m, tag_outputs: true, max_tokens: 100}
"""
    )
    run = tmp_path / "run"
    p = gra(
        "synth",
        seeds,
        "--config",
        cfg,
        "--out",
        run,
        "--n",
        2,
        "--format",
        "alpaca",
        "--format",
        "sharegpt",
        "--format",
        "openai",
    )
    assert p.returncode == 0, p.stderr
    assert f"output: {run / 'data.jsonl'}" in p.stdout
    data = read_jsonl(run / "data.jsonl")
    assert len(data) == 2 and len({d["id"] for d in data}) == 2
    for d in data:
        assert d["instruction"] and d["response"] and d["domain"] in ("math", "writing", "everyday")
        prov = d["provenance"]
        assert prov["generator"] == "smollm2-135m"
        # never the generator as reviewer while another model exists
        assert [r["reviewer"] for r in prov["reviews"]] == ["qwen2.5-coder-0.5b"] * 2
        for r in prov["reviews"]:
            assert r["ok"] is False or set(r["scores"]) == set(DIMENSIONS)
        assert prov["aggregate"]["decision"] in ("accept", "adjudicate")
        assert prov["generation_calls"]["response"]["completion_tokens"] > 0
    alpaca = read_jsonl(run / "data.alpaca.jsonl")
    assert [a["output"] for a in alpaca] == [d["response"] for d in data]
    assert read_jsonl(run / "data.sharegpt.jsonl")[0]["conversations"][1]["from"] == "gpt"
    assert read_jsonl(run / "data.openai.jsonl")[0]["messages"][0]["role"] == "user"
    s = json.loads((run / "summary.json").read_text())
    assert s["counts"]["accepted"] == 2 and s["status"] == "complete"
    assert set(s["usage_by_role"]) >= {"tag", "generate", "review"}
    assert s["usage_by_model"]["qwen2.5-coder-0.5b"]["calls"] >= 4
    assert s["acceptance_by_generator"]["smollm2-135m"]["accepted"] == 2
    assert s["wall_time_s"] > 0


def _poll(db_path: Path, sql: str):
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return None


def test_sigkill_mid_run_then_resume_loses_and_repeats_nothing(tmp_path, seeds):
    cfg = tmp_path / "council.yaml"
    cfg.write_text(FAST)
    run = tmp_path / "run"
    store = run / "run.sqlite"
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(
        synth_cmd(seeds, cfg, run, "--n", 4),
        stdout=log,
        stderr=log,
    )
    deadline = time.time() + 300
    calls_at_accept = None
    try:
        while time.time() < deadline and proc.poll() is None:
            accepted = _poll(store, "SELECT COUNT(*) FROM candidates WHERE state='accepted'")
            calls = _poll(store, "SELECT COUNT(*) FROM calls") or 0
            if accepted and calls_at_accept is None:
                calls_at_accept = calls
            # kill once a sample is accepted and later calls are stored: mid-way
            if calls_at_accept is not None and calls >= calls_at_accept + 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert proc.returncode == -signal.SIGKILL

    before_acc, before_keys = snapshot(store)
    assert 1 <= len(before_acc) < 4 and len(before_keys) > 0
    assert not (run / "data.jsonl").exists()  # killed before writing: nothing half-written

    p = gra("synth", "--resume", run)
    assert p.returncode == 0, p.stderr
    data = read_jsonl(run / "data.jsonl")
    assert len(data) == 4
    assert len({d["id"] for d in data}) == 4
    assert len({d["instruction"] for d in data}) == 4
    by_id = {d["id"]: d["instruction"] for d in data}
    for idx, instruction in before_acc.items():  # nothing accepted before the kill is lost
        assert by_id[f"c{idx:06d}"] == instruction

    db = sqlite3.connect(store)
    after_keys = {k for (k,) in db.execute("SELECT key FROM calls")}
    max_live = db.execute("SELECT MAX(live_calls) FROM calls").fetchone()[0]
    sessions = {s for (s,) in db.execute("SELECT DISTINCT session FROM calls")}
    db.close()
    assert before_keys <= after_keys
    assert max_live == 1  # no completed call was made again
    assert sessions == {1, 2}
    s = json.loads((run / "summary.json").read_text())
    assert s["counts"]["accepted"] == 4 and s["sessions"] == 2
