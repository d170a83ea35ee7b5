"""Running the gra CLI as a real process, and reading a run's store, for the tests."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path


def gra_cmd(*args: object) -> list[str]:
    """The command line of ``gra ARGS...`` with this interpreter."""
    return [sys.executable, "-m", "gra", *map(str, args)]


def run_gra(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``gra ARGS...`` as a process; output captured as text."""
    return subprocess.run(gra_cmd(*args), capture_output=True, text=True, cwd=cwd, timeout=300)


def assert_user_error(p: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2 with one ``gra: error:`` line containing ``words``, no traceback."""
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gra: error: "), p.stderr
    assert "Traceback" not in p.stderr
    for w in words:
        assert w in lines[0], lines[0]


def synth_cmd(seeds: Path, config: Path, out: Path, *args: object) -> list[str]:
    return gra_cmd("synth", seeds, "--config", config, "--out", out, *args)


def snapshot(store: Path) -> tuple[dict[int, str], set[str]]:
    """Accepted candidates (idx -> instruction) and the keys of all stored calls."""
    db = sqlite3.connect(store)
    try:
        accepted = dict(
            db.execute(
                "SELECT idx, json_extract(record, '$.instruction') FROM candidates"
                " WHERE state='accepted'"
            )
        )
        keys = {k for (k,) in db.execute("SELECT key FROM calls")}
    finally:
        db.close()
    return accepted, keys
