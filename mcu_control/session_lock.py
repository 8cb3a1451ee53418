"""One session operation at a time per state directory and site, across processes.

A drill, bring-up or teardown holds an exclusive `flock` on `session-<site>.lock` in the state
directory for as long as it runs; the file says who holds it (pid, operation, since), so the
one that has to wait or give up can say so. The kernel drops the lock when the holder's process
ends, however it ends: a crashed drill never leaves a stale lock behind. Commands that do not
touch the session (status, presets list) never take it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import os
import time
import zoneinfo
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from devices.errors import ConfigError

POLL_S = 0.1


class SessionBusyError(ConfigError):
    """Another process (or task) runs a session operation on this site: exit 3, never a FAIL."""

    kind = "session-busy"


class SessionLock:
    """The exclusive right to run a session operation on one site from one state directory."""

    def __init__(self, state_dir: Path, site_id: str, timezone: str = "Asia/Ho_Chi_Minh") -> None:
        self.path = state_dir / f"session-{site_id}.lock"
        self.tz = zoneinfo.ZoneInfo(timezone)
        self._file: IO[str] | None = None

    @contextlib.asynccontextmanager
    async def hold(self, operation: str, *, wait_s: float = 0.0) -> AsyncIterator[None]:
        """Hold the lock for the block; wait up to `wait_s` for it, then SessionBusyError."""
        await self.acquire(operation, wait_s=wait_s)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, operation: str, *, wait_s: float = 0.0) -> None:
        deadline = time.monotonic() + max(wait_s, 0.0)
        f = self._open()
        try:
            while True:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise self._busy(wait_s) from None
                    await asyncio.sleep(POLL_S)
        except BaseException:
            f.close()
            raise
        f.seek(0)
        f.truncate()
        f.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "operation": operation,
                    "since": dt.datetime.now(self.tz).isoformat(timespec="seconds"),
                }
            )
        )
        f.flush()
        self._file = f

    def release(self) -> None:
        f, self._file = self._file, None
        if f is None:
            return
        with contextlib.suppress(OSError):
            f.seek(0)
            f.truncate()
            f.flush()
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        f.close()

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock now, as the holder wrote it (None: free, or not yet written)."""
        try:
            text = self.path.read_text(encoding="utf-8")
            info = json.loads(text) if text.strip() else None
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    def _open(self) -> IO[str]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # "a+": opening must not wipe the holder's note before we hold the lock ourselves
            return open(self.path, "a+", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot open the session lock {self.path}: {exc.strerror}",
                hint="use a writable --state-dir (or MCU_CONTROL_STATE_DIR)",
            ) from None

    def _busy(self, waited_s: float) -> SessionBusyError:
        info = self.holder() or {}
        op = str(info.get("operation") or "session operation")
        pid = info.get("pid", "unknown")
        since = str(info.get("since") or "")
        try:
            when = dt.datetime.fromisoformat(since).astimezone(self.tz).strftime("%H:%M")
        except ValueError:
            when = "a moment ago"
        article = "an" if op[:1] in "aeiou" else "a"
        waited = f" (waited {waited_s:g} s)" if waited_s > 0 else ""
        return SessionBusyError(
            f"{article} {op} is already running (pid {pid}, since {when}){waited}",
            hint="wait for it to finish, or give --wait SECONDS to queue behind it",
        )
