"""gra synth through a real OpenAI-compatible server (llama-cpp-python's, serving
SmolLM2 on 127.0.0.1): the server is killed mid-run, the run stops cleanly,
the server comes back, the run resumes; nothing accepted is lost or duplicated."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from gra.models.registry import resolve
from tests.councils import fast_roles
from tests.runs import gra_cmd, snapshot, synth_cmd
from tests.servers import free_port, start_llama_server, stop

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[1]


def council(port: int) -> str:
    return json.dumps(
        {
            "models": {
                "smol": {
                    "backend": "openai",
                    "base_url": f"http://127.0.0.1:{port}/v1",
                    "model": "smollm2",
                    "concurrency": 2,
                    "timeout_s": 60,
                    "max_retries": 2,
                    "retry_backoff_s": 0.2,
                }
            },
            **fast_roles("smol"),
        }
    )


def count(db_path: Path, sql: str) -> int:
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute(sql).fetchone()[0] or 0
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_synth_through_server_survives_a_server_crash(tmp_path):
    lines = (ROOT / "examples" / "seeds.jsonl").read_text().splitlines()
    (tmp_path / "seeds.jsonl").write_text("\n".join(lines[::7]) + "\n")
    port = free_port()
    (tmp_path / "c.yaml").write_text(council(port))
    run = tmp_path / "run"
    model = resolve("smollm2-135m")
    server = start_llama_server(port, model, tmp_path / "server.log")
    cmd = synth_cmd(tmp_path / "seeds.jsonl", tmp_path / "c.yaml", run, "--n", 3)
    gra = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and gra.poll() is None:
            if count(run / "run.sqlite", "SELECT COUNT(*) FROM candidates WHERE state='accepted'"):
                break
            time.sleep(0.2)
        assert gra.poll() is None, "the run finished before the server could be killed"
        stop(server, signal.SIGKILL)  # the server dies mid-run
        out, err = gra.communicate(timeout=120)
    finally:
        stop(server, signal.SIGKILL)
        if gra.poll() is None:
            gra.kill()
    assert gra.returncode == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("gra: error: models.smol: model is unreachable") and "--resume" in last
    before, keys_before = snapshot(run / "run.sqlite")
    assert 1 <= len(before) < 3
    # the request asked for json_schema; llama-cpp-python's server takes json_object + schema
    assert "structured output mode json_schema" in err

    server = start_llama_server(port, model, tmp_path / "server.log")
    try:
        p = subprocess.run(
            gra_cmd("synth", "--resume", run),
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        stop(server)
    assert p.returncode == 0, p.stderr
    data = [json.loads(x) for x in (run / "data.jsonl").read_text().splitlines()]
    assert len(data) == 3 and len({d["id"] for d in data}) == 3
    assert len({d["instruction"] for d in data}) == 3
    by_id = {d["id"]: d["instruction"] for d in data}
    assert all(by_id[f"c{i:06d}"] == text for i, text in before.items())
    db = sqlite3.connect(run / "run.sqlite")
    keys_after = {k for (k,) in db.execute("SELECT key FROM calls")}
    assert db.execute("SELECT MAX(live_calls) FROM calls").fetchone()[0] == 1
    modes = {
        json.loads(r)["extra"].get("structured_output")
        for (r,) in db.execute("SELECT response FROM calls WHERE role='review'")
    }
    db.close()
    assert keys_before <= keys_after
    assert modes == {"json_object"}
    for d in data:
        assert all(r["ok"] for r in d["provenance"]["reviews"]) or d["provenance"]["adjudication"]
