"""One process per run directory and per store, with real processes: a second
``gra synth --resume``, ``gra review`` or ``gra select`` on a live one stops at once
naming the holder; a lock left by a SIGKILLed process does not block a resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gra.core.lock import ProcessLock, lock_path
from gra.core.store import Store
from tests.runs import assert_user_error, gra_cmd, run_gra, synth_cmd
from tests.servers import SEEDS, free_port, server_council, start_fake, stop

SAMPLES = "".join(
    json.dumps(
        {
            "instruction": f"Explain idea {i}.",
            "response": f"Idea {i} is simple: one step at a time.",
        }
    )
    + "\n"
    for i in range(6)
)


def council(port: int) -> str:
    return json.dumps(server_council(port, 2, concurrency=2, timeout_s=30.0, max_retries=0))


def wait_for_holder(lock: Path, proc: subprocess.Popen, timeout: float = 60) -> dict:
    """The holder record once ``proc`` has written it into ``lock``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            holder = json.loads(lock.read_text())
            if holder.get("pid") == proc.pid:
                return holder
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{lock} was never taken by process {proc.pid}")


def test_lock_is_reentrant_in_one_process_and_removed_when_released(tmp_path):
    path = tmp_path / "x.sqlite.lock"
    outer = ProcessLock(path, "x").acquire()
    inner = ProcessLock(path, "x").acquire()  # a command's lock, then its store's
    inner.release()
    assert path.exists()
    outer.release()
    assert not path.exists()
    store = Store(tmp_path / "s.sqlite")
    assert lock_path(tmp_path / "s.sqlite").exists()
    store.close()
    assert not lock_path(tmp_path / "s.sqlite").exists()
    reader = Store(tmp_path / "s.sqlite", new_session=False, lock=False)  # e.g. the report
    assert not lock_path(tmp_path / "s.sqlite").exists()
    reader.close()


def test_a_held_store_stops_a_second_process_naming_the_holder(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    try:
        code = (
            "import sys; from gra.core.lock import Busy; from gra.core.store import Store\n"
            "try:\n    Store(sys.argv[1], busy_hint='or use another --out')\n"
            "except Busy as e:\n    print(e)\n"
        )
        p = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "s.sqlite")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert f"in use by process {os.getpid()}" in p.stdout
        assert "or use another --out" in p.stdout
    finally:
        store.close()
    Store(tmp_path / "s.sqlite").close()  # free again once its holder closed it


def test_second_synth_on_a_live_run_stops_and_a_killed_holder_does_not_block(tmp_path):
    port = free_port()
    slow = start_fake(port, delay=0.5)
    (tmp_path / "seeds.jsonl").write_text(SEEDS)
    (tmp_path / "c.yaml").write_text(council(port))
    run = tmp_path / "run"
    first = subprocess.Popen(
        synth_cmd(tmp_path / "seeds.jsonl", tmp_path / "c.yaml", run, "--n", 3),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = lock_path(run / "run.sqlite")
        holder = wait_for_holder(lock, first)
        assert holder["command"].startswith("gra synth")
        second = run_gra("synth", "--resume", run)
        assert_user_error(
            second, f"{run / 'run.sqlite'}: in use by process {first.pid}", "gra synth", "stop it"
        )
        assert first.poll() is None  # the first run went on
        assert not (run / "report.html").exists()  # the second wrote nothing of its own
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        stop(slow)
    assert lock.exists()  # left behind by the killed process ...
    fast = start_fake(port)
    try:
        resumed = subprocess.run(
            gra_cmd("synth", "--resume", run, "--no-report"),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        stop(fast)
    assert resumed.returncode == 0, resumed.stderr  # ... and it did not block the resume
    assert len((run / "data.jsonl").read_text().splitlines()) == 3
    assert not lock.exists()


@pytest.mark.parametrize("command", ["review", "select"])
def test_second_review_or_select_on_a_live_store_stops(tmp_path, command):
    port = free_port()
    slow = start_fake(port, delay=1.0)
    (tmp_path / "data.jsonl").write_text(SAMPLES)
    (tmp_path / "c.yaml").write_text(council(port))
    data, cfg = tmp_path / "data.jsonl", tmp_path / "c.yaml"
    if command == "review":
        args = ["review", data, "--out", tmp_path / "v.jsonl", "--config", cfg]
        args += ["--stages", "council"]
        store, hint = tmp_path / "v.calls.sqlite", "another --out"
    else:
        args = ["select", data, "--out", tmp_path / "top.jsonl", "--method", "judge"]
        args += ["--reviewer", "srv", "--config", cfg, "--cache", tmp_path / "calls.sqlite"]
        args += ["--top-n", "2"]
        store, hint = tmp_path / "calls.sqlite", "its own --cache"
    first = subprocess.Popen(gra_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_holder(lock_path(store), first)
        second = run_gra(*args)
        assert_user_error(second, f"{store}: in use by process {first.pid}", f"gra {command}", hint)
        assert first.poll() is None
    finally:
        first.kill()
        first.wait(timeout=30)
        stop(slow)
