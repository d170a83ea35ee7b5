"""gra's SQLite files, and the run store.

Every SQLite file gra writes -- a run's ``run.sqlite``, the call caches of ``gra review``
and ``gra select``, the IFD score cache -- is a ``SQLiteStore``: held by one process at a
time (``gra.core.lock``), in WAL mode, with an ordered list of named migrations applied on
open. ``PRAGMA user_version`` counts the migrations a file has, so a file written by an
older gra gets the ones it lacks, each in its own transaction, and a file written by a
newer gra is refused with one line.

The run store (``Store``) is one SQLite file per run directory.

It holds every model call (request hash -> response, tokens, latency), every
candidate's state, seed tags and run metadata. Resuming a run replays it:
a request whose hash is already here is answered from the store, never sent
to a model again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gra.core.calls import ChatRequest, ChatResponse
from gra.core.errors import UserError
from gra.core.lock import ProcessLock, lock_path
from gra.core.records import Candidate

STORE_NAME = "run.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    role TEXT NOT NULL,
    prompt TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    finish_reason TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    live_calls INTEGER NOT NULL DEFAULT 1,
    session INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    role TEXT NOT NULL,
    prompt TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    error TEXT NOT NULL,
    recovered INTEGER NOT NULL,
    session INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS candidates (
    idx INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    record TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


# Candidates that ended before outcomes were data get one, read once from what was
# stored then (state, reason, adjudication); from here on gra reads only the codes.
_R = "json_extract(record, '$.reason')"
_ADJ = "json_extract(record, '$.adjudication') IS NOT NULL"
_KEPT = "state IN ('accepted', 'surplus')"
_UNREADABLE = f"{_R} LIKE 'generator reply unreadable%'"
_CHECK = f"{_R} LIKE 'cheap check: %'"
_OUTCOMES = f"""
UPDATE candidates SET record = json_set(record, '$.outcome', json_object(
  'stage', CASE
    WHEN state = 'duplicate' THEN 'dedup'
    WHEN state = 'failed' AND {_UNREADABLE} THEN 'generate'
    WHEN state = 'failed' THEN 'model_call'
    WHEN {_CHECK} THEN 'checks'
    WHEN {_ADJ} THEN 'adjudicator'
    ELSE 'council' END,
  'code', CASE
    WHEN state = 'duplicate' THEN 'near_duplicate'
    WHEN state = 'failed' AND {_UNREADABLE} THEN 'unreadable_reply'
    WHEN state = 'failed' THEN 'call_failed'
    WHEN {_CHECK} THEN substr({_R}, 14, instr(substr({_R}, 14) || ' (', ' (') - 1)
    WHEN {_ADJ} THEN CASE WHEN {_KEPT} THEN 'kept' ELSE 'dropped' END
    WHEN {_KEPT} THEN 'accepted'
    WHEN {_R} LIKE 'code tests:%' THEN 'code_tests'
    ELSE 'rejected' END,
  'detail', {_R}))
WHERE state IN ('accepted', 'rejected', 'duplicate', 'failed', 'surplus')
  AND json_extract(record, '$.outcome') IS NULL;
"""


# Calls say whose work they were (a candidate's, or one item's tags), so an executor on other
# machines can ship a candidate's stored calls with it. Calls stored before know it only
# from the finished candidates' records; an unfinished one's calls stay unowned (a remote
# worker makes them again, the local executor still finds them).
_OWNERS = """
ALTER TABLE calls ADD COLUMN owner TEXT;
CREATE TEMP TABLE owners AS
  SELECT t.value AS key, MIN(c.idx) AS idx FROM candidates c, json_tree(c.record) t
  WHERE t.key = 'key' AND t.type = 'text' GROUP BY t.value;
CREATE INDEX temp.owners_key ON owners(key);
UPDATE calls SET owner = (SELECT 'candidate:' || idx FROM owners WHERE owners.key = calls.key)
  WHERE key IN (SELECT key FROM owners);
DROP TABLE temp.owners;
CREATE INDEX IF NOT EXISTS calls_owner ON calls(owner);
"""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str  # one or more statements


class SQLiteStore:
    """One SQLite file gra writes (module doc). ``lock``: hold the file for this process
    alone until ``close``; a second process opening it stops at once, naming the holder
    (``busy_hint`` says what else the user can do). Readers that write nothing (the
    report) pass False. Subclasses list their ``MIGRATIONS``; never edit or reorder one
    that has shipped, append a new one."""

    MIGRATIONS: tuple[Migration, ...] = ()
    KIND = "store"  # what the file is, in error messages

    def __init__(self, path: str | Path, *, lock: bool = True, busy_hint: str = ""):
        self.path = Path(path)
        self._lock = ProcessLock(lock_path(self.path), str(self.path), busy_hint) if lock else None
        if self._lock is not None:
            self._lock.acquire()
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.migrate()
            except BaseException:
                self.db.close()
                raise
        except sqlite3.Error as e:
            self._release()
            raise UserError(f"cannot open the {self.KIND} ({e})", str(self.path)) from None
        except BaseException:
            self._release()
            raise

    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> list[str]:
        """Apply the migrations this file lacks, in order; the names applied."""
        have = self.schema_version()
        if have > len(self.MIGRATIONS):
            raise UserError(
                f"written by a newer gra (schema {have}; this gra knows "
                f"{len(self.MIGRATIONS)}): upgrade gra to open it",
                str(self.path),
            )
        applied = []
        for n, m in enumerate(self.MIGRATIONS[have:], start=have + 1):
            self.db.executescript(f"BEGIN;\n{m.sql}\nPRAGMA user_version = {n};\nCOMMIT;")
            applied.append(m.name)
        return applied

    def close(self) -> None:
        self.db.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None  # closing twice is harmless


class Store(SQLiteStore):
    """The run store (module doc): model calls, failed tries, candidates, run metadata.
    The call caches of ``gra review`` and ``gra select`` are Stores too (their candidates
    table stays empty)."""

    MIGRATIONS = (
        Migration("calls, failures, candidates and meta", _SCHEMA),
        Migration("candidates' outcomes as data", _OUTCOMES),
        Migration("whose work each call was", _OWNERS),
    )
    KIND = "gra store"

    def __init__(
        self,
        path: str | Path,
        new_session: bool = True,
        *,
        lock: bool = True,
        busy_hint: str = "",
    ):
        super().__init__(path, lock=lock, busy_hint=busy_hint)
        try:
            if self.get_meta("schema_version") is None:
                self.set_meta("schema_version", SCHEMA_VERSION)
            self.session = int(self.get_meta("sessions") or 0) + new_session
            self.set_meta("sessions", self.session)
        except BaseException:
            self.close()
            raise

    # meta -----------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )

    # calls ----------------------------------------------------------------
    def get_call(self, key: str) -> ChatResponse | None:
        row = self.db.execute("SELECT response FROM calls WHERE key=?", (key,)).fetchone()
        return ChatResponse.from_dict(json.loads(row[0])) if row else None

    def put_call(
        self,
        key: str,
        model: str,
        role: str,
        prompt: str,
        request: ChatRequest,
        response: ChatResponse,
        owner: str | None = None,
    ) -> None:
        """Record a completed live call; ``live_calls`` counts repeats (should stay 1).
        ``owner``: whose work it was (``gra.council.caller.CALL_OWNER``)."""
        self.db.execute(
            "INSERT INTO calls(key, model, role, prompt, request, response, finish_reason,"
            " prompt_tokens, completion_tokens, latency_s, session, created_at, owner)"
            " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(key) DO UPDATE SET live_calls = live_calls + 1,"
            " response=excluded.response",
            (
                key,
                model,
                role,
                prompt,
                json.dumps(request.to_dict()),
                json.dumps(response.to_dict()),
                response.finish_reason,
                response.prompt_tokens,
                response.completion_tokens,
                response.latency_s,
                self.session,
                time.time(),
                owner,
            ),
        )

    def calls_of(self, owners: list[str]) -> dict[str, ChatResponse]:
        """The stored replies of the calls ``owners`` made, by request key; ``[None]``:
        the calls no owner was recorded for (stored before owners were)."""
        if owners == [None]:
            where, args = "owner IS NULL", []
        else:
            where, args = f"owner IN ({','.join('?' * len(owners))})", owners
        rows = self.db.execute(f"SELECT key, response FROM calls WHERE {where}", args)
        return {k: ChatResponse.from_dict(json.loads(r)) for k, r in rows.fetchall()}

    def calls_owned(self, prefix: str) -> dict[str, ChatResponse]:
        """The stored replies of every call whose owner starts with ``prefix``, by key."""
        rows = self.db.execute(
            "SELECT key, response FROM calls WHERE substr(owner, 1, ?) = ?", (len(prefix), prefix)
        )
        return {k: ChatResponse.from_dict(json.loads(r)) for k, r in rows.fetchall()}

    def put_failure(
        self,
        key: str,
        model: str,
        role: str,
        prompt: str,
        attempt: int,
        error: str,
        recovered: bool,
    ) -> None:
        """A failed try at a call: ``recovered`` when a later retry of it succeeded."""
        self.db.execute(
            "INSERT INTO failures(key, model, role, prompt, attempt, error, recovered, session,"
            " created_at) VALUES(?,?,?,?,?,?,?,?,?)",
            (key, model, role, prompt, attempt, error, int(recovered), self.session, time.time()),
        )

    def replies(self, role: str) -> list[str]:
        """The text of every stored reply of ``role``."""
        rows = self.db.execute(
            "SELECT json_extract(response, '$.text') FROM calls WHERE role=?", (role,)
        )
        return [r[0] or "" for r in rows.fetchall()]

    def failure_counts(self) -> dict[str, int]:
        """Failed tries, and the calls they belong to: recovered by a retry, or given up."""
        tries, recovered, given_up = self.db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT CASE WHEN recovered=1 THEN key END),"
            " COUNT(DISTINCT CASE WHEN recovered=0 THEN key END) FROM failures"
        ).fetchone()
        return {"failed_tries": tries, "calls_recovered": recovered, "calls_given_up": given_up}

    def total_tokens(self) -> int:
        row = self.db.execute(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM calls"
        ).fetchone()
        return int(row[0])

    def usage_by(self, column: str) -> dict[str, dict[str, float]]:
        """Calls, tokens and model time grouped by ``role`` or ``model``."""
        assert column in ("role", "model")
        rows = self.db.execute(
            f"SELECT {column}, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens),"
            f" SUM(latency_s) FROM calls GROUP BY {column} ORDER BY {column}"
        ).fetchall()
        return {
            r[0]: {
                "calls": r[1],
                "prompt_tokens": r[2],
                "completion_tokens": r[3],
                "model_time_s": round(r[4], 3),
            }
            for r in rows
        }

    # candidates -----------------------------------------------------------
    def save_candidate(self, c: Candidate) -> None:
        self.db.execute(
            "INSERT INTO candidates(idx, state, record, updated_at) VALUES(?,?,?,?)"
            " ON CONFLICT(idx) DO UPDATE SET state=excluded.state, record=excluded.record,"
            " updated_at=excluded.updated_at",
            (c.idx, c.state, json.dumps(c.to_dict(), ensure_ascii=False), time.time()),
        )

    def candidates(self, state: str | None = None) -> list[Candidate]:
        sql = "SELECT record FROM candidates"
        args: tuple = ()
        if state is not None:
            sql += " WHERE state=?"
            args = (state,)
        rows = self.db.execute(sql + " ORDER BY idx", args).fetchall()
        return [Candidate.from_dict(json.loads(r[0])) for r in rows]

    def state_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM candidates GROUP BY state")
        return dict(rows.fetchall())
