"""The daemon answers `status` from its live store, over a unix socket in the state directory.

`status` asked every device itself (1.5 s) and knew nothing of the session the daemon was
running. With a daemon on the same state directory it now connects to `status.sock`, reads one
JSON document (the store's snapshot: session phase, recording, last drill, points, devices) and
prints it — in milliseconds. The socket is the file system's: only users who may enter the
state directory can ask, and nothing but the snapshot (no secrets) is ever sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from mcu_control.state import StateStore

log = logging.getLogger("mcu_control.statusd")

SOCKET_NAME = "status.sock"
#: `status` gives the daemon this long to answer before asking the devices itself
ASK_TIMEOUT_S = 0.25
MAX_ANSWER = 16 * 1024 * 1024


def socket_path(state_dir: Path) -> Path:
    return state_dir / SOCKET_NAME


class StatusSocketComponent:
    """A daemon component serving the store's snapshot on `<state dir>/status.sock`."""

    name = "status-socket"
    active_only = False  # a standby answers too (its store says it is idle)

    def __init__(
        self, store: StateStore, state_dir: Path, central_id: str, site: dict[str, str]
    ) -> None:
        self.store = store
        self.site = site
        self.path = socket_path(state_dir)
        self.drills = state_dir / "drills.sqlite"
        self.central_id = central_id
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if len(os.fsencode(self.path)) >= 100:  # sun_path holds 108 bytes on Linux
            log.warning("state directory path too long for %s: status asks the devices", self.path)
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket left by a daemon that died
        self._server = await asyncio.start_unix_server(self._answer, path=str(self.path))
        os.chmod(self.path, 0o660)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            snap = {
                "source": "daemon",
                "pid": os.getpid(),
                "site": self.site,
                **self.store.snapshot(),
            }
            # a bring-up or drill run from the CLI is the daemon's news too: the calls its
            # supervisor sees and the drill store are the truth, whoever ran them
            derive_session(snap, self.central_id, self.drills)
            writer.write(json.dumps(snap, ensure_ascii=False, default=str).encode() + b"\n")
            async with asyncio.timeout(2.0):
                await writer.drain()
        except (OSError, TimeoutError) as exc:
            log.debug("status client went away: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()


def ask_daemon(state_dir: Path, timeout_s: float = ASK_TIMEOUT_S) -> dict[str, Any] | None:
    """The running daemon's snapshot, or None when no daemon answers within `timeout_s`."""
    path = socket_path(state_dir)
    if not path.exists():
        return None
    chunks: list[bytes] = []
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            s.connect(str(path))
            size = 0
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER:
                    return None
        answer = json.loads(b"".join(chunks))
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def derive_session(snap: dict[str, Any], central_id: str, drills: Path) -> None:
    """Session phase and recording from the calls; the last drill from the drill store.

    Points connected to the session conference mean a session is on, whoever brought it up;
    a bring-up or teardown still running keeps its own phase. Every drill (CLI, MQTT,
    scheduler, demo) is stored, so the store's last one is the last drill.
    """
    from mcu_control.drillstore import DrillStore

    session = snap["session"]
    connected = any(p.get("call_state") == "connected" for p in snap["points"])
    central = next((p for p in snap["points"] if p["id"] == central_id), None)
    recording = bool(central and central.get("recording"))
    if session["phase"] in ("idle", "in-session"):
        session["phase"] = "in-session" if connected or recording else "idle"
    session["recording"] = recording
    if drills.exists():
        last = DrillStore(drills).last()
        if last is not None:
            snap["last_drill"] = last.summary()


def exit_code(snap: dict[str, Any]) -> int:
    """`status`'s exit code: 2 when a device is down, else 0."""
    return 2 if any(d.get("health") == "down" for d in snap.get("devices", [])) else 0
