"""gra's SQLite files: ordered migrations applied on open, old files upgraded in place,
files from a newer gra refused with one line."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from gra.core.errors import UserError
from gra.core.store import Migration, SQLiteStore, Store
from gra.ifd.scoring import LossCacheFile

FIXTURE_STORE = Path(__file__).parent / "fixtures" / "run_before_refactor" / "run.sqlite"


class Notes(SQLiteStore):
    MIGRATIONS = (
        Migration("notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"),
        Migration("notes.author", "ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT '';"),
    )


class OldNotes(SQLiteStore):  # what an older gra knew
    MIGRATIONS = Notes.MIGRATIONS[:1]


def test_migrations_run_in_order_once_and_upgrade_an_older_file(tmp_path):
    path = tmp_path / "notes.sqlite"
    old = OldNotes(path)
    assert old.schema_version() == 1
    old.db.execute("INSERT INTO notes(text) VALUES ('kept')")
    old.close()

    new = Notes(path)
    assert new.schema_version() == 2
    assert new.db.execute("SELECT text, author FROM notes").fetchall() == [("kept", "")]
    assert new.migrate() == []  # nothing left to apply
    new.close()
    again = Notes(path)  # a second open applies nothing (ALTER TABLE twice would fail)
    assert again.schema_version() == 2
    again.close()


def test_a_file_from_a_newer_gra_is_refused_with_one_line(tmp_path):
    path = tmp_path / "notes.sqlite"
    Notes(path).close()
    with pytest.raises(UserError) as e:
        OldNotes(path)
    assert "newer gra" in str(e.value) and e.value.where == str(path)
    Notes(path).close()


def test_not_a_database_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "run.sqlite"
    path.write_text("not sqlite at all, " * 100)
    with pytest.raises(UserError) as e:
        Store(path)
    assert "cannot open the gra store" in str(e.value) and e.value.where == str(path)


def test_a_store_written_before_migrations_opens_and_keeps_its_data(tmp_path):
    path = tmp_path / "run.sqlite"
    shutil.copy(FIXTURE_STORE, path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (0,)
    store = Store(path, new_session=False)
    try:
        assert store.schema_version() == len(Store.MIGRATIONS)
        assert store.state_counts()["accepted"] == 2
        assert store.get_meta("schema_version") == 1
    finally:
        store.close()


def test_every_sqlite_file_gra_writes_is_a_migrated_store(tmp_path):
    for cls in (Store, LossCacheFile):
        s = cls(tmp_path / f"{cls.__name__}.sqlite")
        assert isinstance(s, SQLiteStore) and s.schema_version() == len(cls.MIGRATIONS) >= 1
        s.close()


def test_the_pre_refactor_runs_candidates_get_their_outcomes_as_codes(tmp_path):
    path = tmp_path / "run.sqlite"
    shutil.copy(FIXTURE_STORE, path)
    store = Store(path, new_session=False)
    try:
        got = {c.idx: (c.state, c.outcome) for c in store.candidates()}
    finally:
        store.close()
    outcomes = {i: (st, (o.stage, o.code) if o else None) for i, (st, o) in got.items()}
    assert outcomes == {
        0: ("rejected", ("checks", "prompt_leak")),
        1: ("rejected", ("checks", "truncated")),
        2: ("accepted", ("council", "accepted")),
        3: ("accepted", ("council", "accepted")),
        4: ("running", None),
    }
    assert got[1][1].detail.startswith("cheap check: truncated (stopped at the token limit")


def test_calls_stored_before_owners_get_them_from_the_finished_candidates(tmp_path):
    """Migration 3: a finished candidate's calls name it as their owner (read from its
    record); the rest -- seed tags, the unfinished candidate's -- stay unowned, and
    ``calls_of([None])`` gives exactly those (a Ray worker gets them once at start)."""
    path = tmp_path / "run.sqlite"
    shutil.copy(FIXTURE_STORE, path)
    store = Store(path, new_session=False)
    try:
        owners = dict(store.db.execute("SELECT key, owner FROM calls"))
        records = {c.idx: c for c in store.candidates()}
        for idx, c in records.items():
            keys = {i.key for i in c.calls.values()} | {r.call.key for r in c.reviews if r.call}
            if c.state != "running":
                assert keys and all(owners[k] == f"candidate:{idx}" for k in keys)
                assert set(store.calls_of([f"candidate:{idx}"])) == keys
        unowned = {k for k, o in owners.items() if o is None}
        roles = dict(store.db.execute("SELECT key, role FROM calls"))
        assert {roles[k] for k in unowned} == {"tag"}
        assert set(store.calls_of([None])) == unowned
    finally:
        store.close()
