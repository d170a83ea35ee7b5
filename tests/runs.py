"""Running the gra CLI as a real process, and reading a run's store, for the tests."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path


def gra_cmd(*args: object) -> list[str]:
    """The command line of ``gra ARGS...`` with this interpreter."""
    return [sys.executable, "-m", "gra", *map(str, args)]


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
