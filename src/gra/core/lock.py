"""One process per run directory (and per store): an exclusive lock beside the file.

``gra synth`` locks its run directory, ``gra review`` and ``gra select`` the SQLite
stores they write. A second process asking for a held lock stops at once with one
line naming the process that holds it; it never waits and never runs alongside.

The lock is the kernel's (``flock`` on a ``*.lock`` file): it belongs to the open
file, so a process that dies -- even by SIGKILL -- releases it, and a lock file it
leaves behind never blocks a later run. The file holds the holder's pid, command
and start time, only to say who holds it. Within one process the lock is
re-entrant: a command can take it before its first step and the store it opens
later takes it again (counted, released by the last holder).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

from gra.core.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


_held: dict[str, list[int]] = {}  # real path -> [fd, holders] of this process
_held_guard = threading.Lock()


class Busy(UserError):
    """The lock is held by another live process."""


class ProcessLock:
    """An exclusive, non-blocking lock on ``path`` (a ``.lock`` file).

    ``what`` names the thing locked in the message (a run directory, a store) and
    ``hint`` says what else the user can do while it is held.
    """

    def __init__(self, path: str | Path, what: str, hint: str = ""):
        self.path = Path(path)
        self.what = what
        self.hint = hint
        self._key: str | None = None

    def acquire(self) -> ProcessLock:
        if self._key is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = os.path.realpath(self.path)
        with _held_guard:
            if key in _held:
                _held[key][1] += 1
            else:
                _held[key] = [self._take(), 1]
        self._key = key
        return self

    def _take(self) -> int:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                raise Busy(self._busy_message(holder), self.what)
            # The holder before us may have removed the file after we opened it: then
            # we hold a lock on a name nobody else can find. Take the current file.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": _command(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        return fd

    def release(self) -> None:
        key, self._key = self._key, None
        if key is None:
            return
        with _held_guard:
            entry = _held[key]
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _held[key]
        try:
            os.unlink(key)  # while still locked: no one can take the old file
        except FileNotFoundError:
            pass
        os.close(entry[0])

    def _busy_message(self, holder: dict) -> str:
        pid = holder.get("pid")
        if not pid:
            who = "another process"
        else:
            who = f"process {pid}"
            if holder.get("host") and holder["host"] != socket.gethostname():
                who += f" on {holder['host']}"
            if holder.get("command"):
                who += f" ({holder['command']}, since {holder.get('since', '?')})"
        then = f"; {self.hint}" if self.hint else ""
        return f"in use by {who}; wait for it to finish or stop it{then}"

    def __enter__(self) -> ProcessLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def lock_path(file: str | Path) -> Path:
    """The lock file that guards ``file`` (a store, or a run directory's store)."""
    file = Path(file)
    return file.with_name(file.name + ".lock")


def _try_lock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover - no advisory locks: nothing to guard with
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_holder(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _command() -> str:
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    name = argv0.parent.name if argv0.name == "__main__.py" else argv0.name  # python -m gra
    args = " ".join(sys.argv[1:])
    text = f"{name} {args}".strip()
    return text if len(text) <= 120 else text[:117] + "..."
