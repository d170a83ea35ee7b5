"""gra synth on Ray (gra.executors.ray_actors), on a real local Ray cluster the tests start:
a head and a second node, one CPU each, so the two workers run on two nodes.

The council is one OpenAI-compatible fake server (tests/fake_openai_server.py), run as a
real process; the driver is this process, or a ``gra`` process the test kills."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray
import yaml
from ray.cluster_utils import Cluster

import gra
from gra.api import load_config
from gra.core.errors import UserError
from gra.executors.ray_actors import shares
from tests.servers import SEEDS, free_port, server_council, start_fake, stop

TERMINAL = ("accepted", "rejected", "duplicate", "failed", "surplus")
GRA = [sys.executable, "-m", "gra.cli.app"]


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    c.shutdown()


@pytest.fixture
def server():
    """A fake server answering after 0.15 s (a run takes seconds: long enough to kill)."""
    port = free_port()
    proc = start_fake(port, delay=0.15)
    yield port, proc
    stop(proc)


def _db(run: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{run / 'run.sqlite'}?mode=ro", uri=True)


def _states(run: Path) -> dict[int, str]:
    with _db(run) as db:
        return dict(db.execute("SELECT idx, state FROM candidates"))


def _finished(run: Path) -> int:
    try:
        return sum(s in TERMINAL for s in _states(run).values())
    except sqlite3.Error:
        return 0


def _rows(run: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (run / "data.jsonl").read_text().splitlines()]
    return sorted((r["id"], r["instruction"], r["response"]) for r in rows)


def _live_calls(run: Path) -> dict[str, int]:
    with _db(run) as db:
        return dict(db.execute("SELECT key, live_calls FROM calls"))


def _assert_whole(run: Path, n: int, stored_before: dict[str, int] | None = None) -> None:
    """Candidates 0..n-1, each once and ended; every call knows its owner; no call stored
    before (``stored_before``) was made again, and no candidate's own call twice. (A seed's
    tags can be asked for by two workers at once, before either has stored them: one may
    still be in flight when the other's is stored.)"""
    states = _states(run)
    assert sorted(states) == list(range(n))
    assert all(s in TERMINAL for s in states.values()), states
    with _db(run) as db:
        assert db.execute("SELECT COUNT(*) FROM calls WHERE owner IS NULL").fetchone()[0] == 0
        again = db.execute("SELECT role, key FROM calls WHERE live_calls > 1").fetchall()
    assert all(role == "tag" for role, _ in again), again
    now = _live_calls(run)
    with _db(run) as db:
        tags = {k for (k,) in db.execute("SELECT key FROM calls WHERE role = 'tag'")}
    before = {k: v for k, v in (stored_before or {}).items() if k not in tags}
    assert {k: now[k] for k in before} == before
    ids = [r[0] for r in _rows(run)]
    assert len(ids) == len(set(ids)) > 0


def test_server_concurrency_is_split_between_workers():
    cfg = load_config(server_council(1, concurrency=5))
    assert [c.model("srv").concurrency for c in shares(cfg, 2)] == [3, 2]
    assert cfg.model("srv").concurrency == 5  # the config given is left as it was
    with pytest.raises(UserError, match="below the 6 Ray workers") as e:
        shares(cfg, 6)
    assert e.value.where == "models.srv.concurrency"


def test_the_driver_stores_and_counts_a_workers_calls_as_it_would_its_own(tmp_path):
    from gra.core.calls import ChatRequest, ChatResponse
    from gra.core.store import Store
    from gra.council.caller import Caller
    from gra.council.pool import ModelPool

    store = Store(tmp_path / "s.sqlite")
    caller = Caller(ModelPool(load_config(None)), store)
    reply = ChatResponse("hi", "stop", prompt_tokens=3, completion_tokens=2, latency_s=0.5)
    req = ChatRequest(messages=(("user", "x"),), max_tokens=4)
    caller.absorb([
        ("call", ("k1", "m", "generate", "p@1", req, reply, "candidate:0")),
        ("failure", ("k2", "m", "review", "p@1", 1, "boom", False)),
        ("failure", ("k2", "m", "review", "p@1", 2, "boom", False)),  # one call, two tries
        ("hit",),
    ])  # fmt: skip
    assert (caller.stats.calls, caller.stats.failed, caller.stats.cached) == (1, 1, 1)
    assert caller.tokens_used == 5 and store.get_call("k1") == reply
    assert store.calls_of(["candidate:0"]) == {"k1": reply}
    assert store.failure_counts() == {"failed_tries": 2, "calls_recovered": 0,
                                      "calls_given_up": 1}  # fmt: skip


def test_an_address_nothing_answers_is_one_line_in_seconds(tmp_path):
    from tests.runs import assert_user_error, run_gra

    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"instruction": "Say hi.", "response": "Hi there!"}) + "\n")
    t0 = time.time()
    p = run_gra("dedup", data, "--out", tmp_path / "o.jsonl", "--executor", "ray",
                "--ray-address", f"127.0.0.1:{free_port()}")  # fmt: skip
    assert_user_error(p, "--ray-address", "cannot reach a Ray cluster", "ray start --head")
    assert time.time() - t0 < 60 and not (tmp_path / "o.jsonl").exists()


def test_a_worker_holds_an_items_calls_only_while_it_runs():
    from gra.executors.ray_actors import ShippedCalls

    calls = ShippedCalls()
    calls.keep({"old": "r0"})  # stored before owners: kept for the worker's life
    calls.hold({"own": "r1", "seed-tag": "r2"})  # item 1
    calls.hold({"seed-tag": "r2"})  # item 2 needs the same tag
    calls.put_call("made", "m", "generate", "p", None, "r3")
    calls.put_call("new-tag", "m", "tag", "p", None, "r4")  # shared: kept
    calls.release(["own", "seed-tag"], made=["made", "new-tag"])  # item 1 ends
    assert sorted(calls.replies) == ["new-tag", "old", "seed-tag"]
    calls.release(["seed-tag"])  # item 2 ends
    assert sorted(calls.replies) == ["new-tag", "old"]


def test_without_ray_one_line_and_nothing_written(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(SEEDS)
    code = "import sys; sys.modules['ray'] = None; from gra.cli.app import main; main()"
    out = tmp_path / "run"
    p = subprocess.run(
        [sys.executable, "-c", code, "synth", str(seeds), "--out", str(out), "--executor", "ray"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "gra: error: --executor: Ray is not installed; run: pip install 'gra[ray]'"
    ]
    assert not out.exists()


def test_ray_and_local_accept_the_same_samples(cluster, server, tmp_path):
    port, proc = server
    (tmp_path / "seeds.jsonl").write_text(SEEDS)
    cfg = server_council(port, in_flight=4, concurrency=4)
    local = tmp_path / "local"
    a = gra.synth(tmp_path / "seeds.jsonl", local, n=100, max_candidates=10, config=cfg)
    # the same run again from a warm call cache: its calls, none of its candidates
    warm = tmp_path / "ray"
    shutil.copytree(local, warm)
    with sqlite3.connect(warm / "run.sqlite") as db:
        db.execute("DELETE FROM candidates")
    stop(proc)  # a call not answered from the cache would now fail the run
    b = gra.resume(warm, executor="ray", ray_address=cluster.address, workers=2)
    assert b.summary["executor"] == {"kind": "ray", "workers": 2, "nodes": 2, "workers_lost": 0}
    assert b.stop_reason == a.stop_reason == "max candidates reached (10)"
    assert _rows(warm) == _rows(local)
    assert b.summary["counts"] == a.summary["counts"]
    _assert_whole(warm, 10)
    print(f"\nlocal and ray (2 workers on 2 nodes) accepted the same {len(_rows(warm))} samples")


def test_killed_driver_resumes_losing_and_repeating_nothing(cluster, server, tmp_path):
    port, _ = server
    (tmp_path / "seeds.jsonl").write_text(SEEDS)
    (tmp_path / "council.yaml").write_text(yaml.safe_dump(server_council(port, concurrency=4)))
    run = tmp_path / "run"
    args = ["--n", "100", "--max-candidates", "16", "--no-report"]
    driver = subprocess.Popen(
        [*GRA, "synth", str(tmp_path / "seeds.jsonl"), "--config", str(tmp_path / "council.yaml"),
         "--out", str(run), *args, "--executor", "ray", "--ray-address", cluster.address],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": "."},
    )  # fmt: skip
    deadline = time.time() + 120
    while _finished(run) < 4 and driver.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert driver.poll() is None, driver.stderr.read().decode()
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert 4 <= _finished(run) < 16
    stored = _live_calls(run)
    done = gra.resume(run)  # on the local executor
    assert done.stop_reason == "max candidates reached (16)"
    _assert_whole(run, 16, stored)


def test_the_cluster_example_and_its_copy_in_the_docs_agree():
    """examples/council-ray-vllm.yaml loads, splits 64 per worker over 4, and docs/ray.md
    shows it as it is."""
    root = Path(__file__).resolve().parents[1]
    example = root / "examples" / "council-ray-vllm.yaml"
    cfg = load_config(example)
    assert [c.model("qwen7b").concurrency for c in shares(cfg, 4)] == [64] * 4
    body = "\n".join(line for line in example.read_text().splitlines() if not line.startswith("#"))
    assert body in (root / "docs" / "ray.md").read_text()


def test_a_worker_node_removed_mid_run(cluster, server, tmp_path, caplog):
    """Last in the file: it takes the second node away."""
    port, _ = server
    (tmp_path / "seeds.jsonl").write_text(SEEDS)
    cfg = server_council(port, concurrency=4)
    run = tmp_path / "run"
    result: dict = {}

    def drive():
        try:
            result["run"] = gra.synth(
                tmp_path / "seeds.jsonl", run, n=100, max_candidates=16, config=cfg,
                executor="ray", ray_address=cluster.address, workers=2,
            )  # fmt: skip
        except BaseException as e:  # noqa: BLE001 -- reported below
            result["error"] = e

    t = threading.Thread(target=drive)
    t.start()
    deadline = time.time() + 120
    while _finished(run) < 3 and t.is_alive() and time.time() < deadline:
        time.sleep(0.1)
    assert t.is_alive(), result
    stored = _live_calls(run)
    node = next(n for n in cluster.worker_nodes)
    cluster.remove_node(node, allow_graceful=False)
    t.join(timeout=300)
    assert not t.is_alive() and "error" not in result, result
    r = result["run"]
    assert r.stop_reason == "max candidates reached (16)"
    assert r.summary["executor"]["workers_lost"] == 1
    lines = [m for m in caplog.messages if "Ray worker died" in m]
    assert len(lines) == 1 and "redone on the 1 worker(s) left" in lines[0], caplog.messages
    print("\nwhat a user sees:", lines[0])
    _assert_whole(run, 16, stored)
    assert not ray.is_initialized()  # the executor shut down the connection it made
