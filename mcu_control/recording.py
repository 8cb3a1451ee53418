"""Recording proof: the recorder's file appears, keeps growing, and is fingerprinted at the end.

A connected recorder *participant* only proves the MCU dialled it. When the profile's recorder
has a `storage` section, `RecordingMonitor` watches that directory from the bring-up on: a new
file matching the pattern must appear within the window and keep growing; if it does not, the
monitor raises an alert (event on the feed, the panel's "Không ghi hình", an audit record).
`finish()` fingerprints the file (name, size, SHA-256, duration) after the teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcu_control.state import SessionState, StateStore
from profiles.mcu import RecordingStorage

log = logging.getLogger("mcu_control.recording")

NOT_RECORDING = "Không ghi hình"
FFPROBE_TIMEOUT_S = 20.0
HASH_CHUNK = 1 << 20


@dataclass
class _Seen:
    path: Path
    size: int
    first_seen: dt.datetime
    last_growth: float  # monotonic
    last_growth_wall: dt.datetime
    grew: bool = False  # seen growing at least once after it appeared


@dataclass
class RecordingMonitor:
    """Watch one storage directory during one session (``start()``, ``finish()``)."""

    storage: RecordingStorage
    directory: Path
    store: StateStore
    record: Callable[..., None]  # audit: record(action, target=..., **data)
    central_id: str
    recorder_device: str  # "<point>.<recorder id>" in the state store
    monotonic: Callable[[], float] = time.monotonic
    since: float = 0.0  # epoch: ignore files last modified before (a restarted daemon)
    state: str = "waiting"  # waiting | writing | stalled | missing
    alerts: list[dict[str, Any]] = field(default_factory=list)
    _baseline: dict[str, int] = field(default_factory=dict)
    files: list[_Seen] = field(default_factory=list)  # in the order they appeared
    _started: float = 0.0
    _task: asyncio.Task[None] | None = None

    @property
    def window_s(self) -> float:
        return self.storage.window_min * 60

    async def start(self) -> None:
        """Note what is already there, then check every `interval_s` until `finish()`."""
        self._started = self.monotonic()
        try:
            self._baseline = {p.name: size for p, size in await asyncio.to_thread(self._scan)}
        except OSError as exc:
            log.warning("recording storage %s not readable yet: %s", self.directory, exc)
        self._task = asyncio.create_task(self._run(), name="recording-monitor")

    async def check(self) -> None:
        """One check of the directory (also what the periodic task runs)."""
        now = self.monotonic()
        try:
            files = await asyncio.to_thread(self._scan)
        except OSError as exc:
            if now - self._started >= self.window_s:
                self._alert(
                    "recording-storage-unreadable", f"không đọc được {self.directory}: {exc}"
                )
            return
        sizes = dict(files)
        known = {f.path for f in self.files}
        fresh = [(p, n) for p, n in files if self._baseline.get(p.name, -1) < n and p not in known]
        current = self.files[-1] if self.files else None
        if current is not None:
            size = sizes.get(current.path)
            if size is not None and size > current.size:
                current.size, current.last_growth = size, now
                current.last_growth_wall = _utcnow()
                current.grew = True
                self._writing()
            elif fresh:  # the recorder started a new file (split, or a new call)
                self._adopt(*fresh[-1], now)
            elif now - current.last_growth >= self.window_s:
                since = current.last_growth_wall.isoformat(timespec="seconds")
                self._alert(
                    "recording-stalled",
                    f"tệp {current.path.name} không tăng kích thước từ {since} (UTC)",
                )
            return
        if fresh:
            self._adopt(*fresh[-1], now)
        elif now - self._started >= self.window_s:
            self._alert(
                "recording-missing",
                f"chưa có tệp ghi hình mới ({self.storage.pattern}) trong {self.directory} "
                f"sau {self.storage.window_min:g} phút",
            )

    async def cancel(self) -> None:
        """Stop the periodic check (nothing is recorded)."""
        self.store.recording_alert = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def finish(self) -> dict[str, Any]:
        """Stop watching; fingerprint the file and record it in the audit log."""
        await self.cancel()
        with contextlib.suppress(Exception):
            await self.check()
        self.store.recording_alert = None  # the session is over; the next one starts clean
        proof: dict[str, Any] = {
            "directory": str(self.directory),
            "pattern": self.storage.pattern,
            "window_min": self.storage.window_min,
            "state": self.state,
            "alerts": list(self.alerts),
        }
        proof["files"] = [await self._fingerprint(f) for f in self.files]
        self.record("recording.file", target=self.recorder_device, **proof)
        return proof

    async def _fingerprint(self, seen: _Seen) -> dict[str, Any]:
        path = seen.path
        try:
            size, digest = await asyncio.to_thread(_sha256, path)
        except OSError as exc:
            return {"name": path.name, "path": str(path), "error": str(exc)}
        duration, how = await _duration(path)
        observed = (seen.last_growth_wall - seen.first_seen).total_seconds()
        return {
            "name": path.name,
            "path": str(path),
            "size": size,
            "sha256": digest,
            "duration_s": duration,
            "duration_source": how,
            "first_seen": seen.first_seen.isoformat(),
            "last_growth": seen.last_growth_wall.isoformat(),
            "observed_writing_s": round(observed, 1),
        }

    # ------------------------------------------------------------------ internals

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.storage.interval_s)
            try:
                await self.check()
            except Exception:
                log.exception("recording check failed unexpectedly")

    def _scan(self) -> list[tuple[Path, int]]:
        """Matching regular files, oldest first by modification time, with their sizes."""
        if not self.directory.is_dir():
            raise FileNotFoundError(f"no directory {self.directory}")
        found = []
        for p in self.directory.glob(self.storage.pattern):
            with contextlib.suppress(OSError):
                st = p.stat()
                if p.is_file() and st.st_mtime >= self.since:
                    found.append((st.st_mtime, p, st.st_size))
        found.sort()
        return [(p, size) for _, p, size in found]

    def _adopt(self, path: Path, size: int, now: float) -> None:
        wall = _utcnow()
        self.files.append(_Seen(path, size, wall, now, wall))
        log.info("recording file %s appeared (%d bytes)", path, size)
        self.store.event("recording-file", file=path.name, size=size)
        self.record("recording.appeared", target=self.recorder_device, file=path.name, size=size)
        self._writing()

    def _writing(self) -> None:
        if self.state in ("stalled", "missing"):
            self.store.event("recording-resumed", file=self.files[-1].path.name)
            self.record("recording.resumed", target=self.recorder_device)
            self._set_panel(True, "")
        self.state = "writing"

    def _alert(self, kind: str, message: str) -> None:
        state = "missing" if kind != "recording-stalled" else "stalled"
        if self.state == state:
            return  # one alert per episode, not one per check
        self.state = state
        at = _utcnow().isoformat()
        self.alerts.append({"kind": kind, "at": at, "message": message})
        log.error("%s: %s", NOT_RECORDING, message)
        self.store.event(kind, severity="alert", message=f"{NOT_RECORDING}: {message}")
        self.record("recording.alert", target=self.recorder_device, kind=kind, message=message)
        self._set_panel(False, f"{NOT_RECORDING}: {message}")

    def _set_panel(self, recording: bool, reason: str) -> None:
        """The panels' "Không ghi hình": the central point and the session stop recording.

        `store.recording_alert` keeps the call supervisor, which sees the recorder's call still
        up, from turning `recording` back on while the file does not grow.
        """
        store = self.store
        store.recording_alert = None if recording else reason
        if self.central_id in store.points:
            store.update_point(self.central_id, recording=recording)
        s = store.session
        store.set_session(
            SessionState(s.phase, s.session_id, s.title, s.starts_at, s.ends_at, recording)
        )


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sha256(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    return _sha256(path)[1]


async def _duration(path: Path) -> tuple[float | None, str]:
    """The media duration by ffprobe, or None and why not."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return None, "ffprobe not installed"
    proc = await asyncio.create_subprocess_exec(
        exe,
        "-v",
        "error",
        "-show_entries",
        "format=duration",
        "-of",
        "json",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), FFPROBE_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return None, f"ffprobe gave no answer within {FFPROBE_TIMEOUT_S:g} s"
    try:
        return float(json.loads(out)["format"]["duration"]), "ffprobe"
    except (ValueError, KeyError, TypeError):
        detail = err.decode("utf-8", "replace").strip().splitlines()
        return None, "ffprobe found no duration" + (f": {detail[-1]}" if detail else "")
