"""Who is active in a redundant pair.

PostgreSQL pair: a session-level advisory lock held on a dedicated connection. Chosen over a
lease row because the server frees the lock the moment the holder's connection dies (a killed
process closes its socket at once; a vanished host is detected by TCP keepalives in ~15 s),
no clock on either PC is compared with another, and nothing has to be renewed by writing.
The active daemon pings its lock connection every poll; if the ping fails it steps down at
once. The `job_runs` ledger (see scheduler.db) makes a double run impossible even in the
window where both sides might believe they are active.

Single daemon (SQLite): an exclusive flock on a file in the state directory, so a second
daemon started by mistake on the same PC stays standby instead of double-running jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("mcu_control.scheduler.leader")


class Leadership(Protocol):
    """A lock that at most one daemon holds."""

    async def try_acquire(self) -> bool:
        """Take the lock if free; True if this daemon now holds it."""
        ...

    async def still_held(self) -> bool:
        """Cheap check that the lock is still ours; False means step down now."""
        ...

    async def release(self) -> None: ...


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a site (and schema)."""
    digest = hashlib.sha256(f"mcu-control:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class FileLeadership:
    """An flock on `path`: one active daemon per PC."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    async def still_held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class PgAdvisoryLeadership:
    """pg_try_advisory_lock(key) on a connection of its own; every call has a timeout."""

    def __init__(
        self,
        conninfo: str,
        key: int,
        *,
        timeout_s: float = 3.0,
        application_name: str = "mcu-control-leader",
    ) -> None:
        """`application_name` shows in pg_stat_activity (the daemon adds its node id)."""
        self.conninfo = conninfo
        self.key = key
        self.timeout_s = timeout_s
        self.application_name = application_name[:63]  # PostgreSQL's NAMEDATALEN - 1
        self._conn: Any = None
        self._held = False

    async def try_acquire(self) -> bool:
        if self._held:
            return await self.still_held()
        try:
            async with asyncio.timeout(self.timeout_s):
                if self._conn is None or self._conn.closed:
                    self._conn = await _connect(
                        self.conninfo, self.timeout_s, self.application_name
                    )
                cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
                row = await cur.fetchone()
        except (TimeoutError, OSError, _pg_error()) as exc:
            log.warning("cannot reach PostgreSQL for the active lock: %s", _clean(exc))
            await self._drop()
            return False
        self._held = bool(row and row[0])
        return self._held

    async def still_held(self) -> bool:
        if not self._held or self._conn is None:
            return False
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._conn.execute("SELECT 1")
        except (TimeoutError, OSError, _pg_error()) as exc:
            log.error(  # noqa: TRY400 — expected on failover; no traceback
                "lost the lock connection to PostgreSQL: %s", _clean(exc)
            )
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        if self._conn is not None and self._held:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.timeout_s):
                    await self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        await self._drop()

    async def _drop(self) -> None:
        self._held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.timeout_s):
                    await conn.close()


async def _connect(conninfo: str, timeout_s: float, application_name: str) -> Any:
    import psycopg

    return await psycopg.AsyncConnection.connect(
        conninfo,
        autocommit=True,
        connect_timeout=max(1, int(timeout_s)),
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
        application_name=application_name,
    )


def _pg_error() -> type[Exception]:
    import psycopg

    error: type[Exception] = psycopg.Error
    return error


def _clean(exc: BaseException) -> str:
    from devices.secrets import redact

    return redact(str(exc) or type(exc).__name__)


def pg_conninfo(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://…` (SQLAlchemy) → `postgresql://…` (libpq)."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
