"""SQLite files in the state directory: mode 0640, WAL, a busy timeout, corruption set aside.

Shared by every SQLite store (the scheduler's tables, the drill results). A power cut or a bad
disk can leave a file that is not a database or has a damaged page; `prepare` finds that with
`PRAGMA quick_check`, moves the file (and its -wal/-shm) to `<name>.corrupt-<UTC time>` beside
it, logs what happened and lets a new, empty database start — the scheduler and the drills
must run on session day even if their history is lost (it is kept aside for an expert).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

log = logging.getLogger("mcu_control.storage")

FILE_MODE = 0o640
BUSY_TIMEOUT_S = 10.0
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


class CorruptDatabase(Exception):  # noqa: N818 — an event that is handled, not an error raised
    """Internal: raised by `_check` when the file is damaged."""


def prepare(path: Path) -> str | None:
    """Create `path` 0640 if missing, or set it aside if corrupt; return the warning, if any.

    Runs under an flock of `<path>.lock`, so ten processes opening a fresh or damaged file at
    once agree: one moves it aside, the others see the new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        message: str | None = None
        try:
            _check(path)
        except CorruptDatabase as exc:
            aside = _move_aside(path)
            message = (
                f"the database {path} was damaged ({exc}); it was moved to {aside.name} and a "
                f"new, empty one was started — the history in it is lost unless restored from "
                f"a backup"
            )
            log.warning("%s", message)
        _create_private(path)
        return message
    finally:
        os.close(lock)  # releases the flock


def connect(path: Path) -> sqlite3.Connection:
    """A connection with a busy timeout and WAL (readers never block the one writer)."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    tune(db)
    return db


def tune(db: Any) -> None:
    """WAL and a busy timeout on a DB-API connection (sqlite3 or SQLAlchemy's raw one)."""
    cur = db.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable except the last commit
    finally:
        cur.close()


def is_corruption(exc: BaseException) -> bool:
    """Whether an sqlite3 error means a damaged file (not a lock or a full disk)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _check(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise CorruptDatabase(str(exc)) from None
        raise
    if rows != [("ok",)]:
        first = str(rows[0][0]) if rows else "no answer"
        raise CorruptDatabase(f"integrity check: {first}")


def _move_aside(path: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    return aside


def _create_private(path: Path) -> None:
    """An empty file 0640: SQLite gives its -wal and -shm files the database file's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
