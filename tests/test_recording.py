"""The recording check against the simulated recorder's files on a real directory."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hil.sim.recorder_files import RecordingWriter
from mcu_control.audit import AuditLog
from mcu_control.recording import NOT_RECORDING, RecordingMonitor
from mcu_control.state import Change, StateStore
from profiles import load_profile
from profiles.loader import SHIPPED_SITES
from profiles.mcu import RecordingStorage

os.environ.setdefault("MCU_CONTROL_DEMO_SECRET", "rig-secret-2026")
WINDOW_MIN = 0.02  # 1.2 s
INTERVAL_S = 0.1


def _monitor(tmp_path: Path, audit: AuditLog, store: StateStore) -> RecordingMonitor:
    storage = RecordingStorage(
        directory=Path("recordings"),
        pattern="*.ts",
        window_min=WINDOW_MIN,
        check_interval_s=INTERVAL_S,
    )

    def record(action: str, target: str | None = None, **data: Any) -> None:
        audit.append(action, actor="test", target=target, **data)

    return RecordingMonitor(
        storage,
        storage.resolved(tmp_path),
        store,
        record,
        "trung-tam",
        "trung-tam.recorder",
    )


@pytest.fixture
def store() -> StateStore:
    s = StateStore()
    s.seed(load_profile(SHIPPED_SITES / "demo.yaml").profile)
    return s


async def _first(queue: asyncio.Queue[Change], kind: str, timeout_s: float) -> Change:
    async with asyncio.timeout(timeout_s):
        while True:
            change = await queue.get()
            if change.kind == "event" and change.key == kind:
                return change


async def test_a_growing_file_is_proven_and_fingerprinted(
    tmp_path: Path, store: StateStore
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    monitor = _monitor(tmp_path, audit, store)
    writer = RecordingWriter(monitor.directory, lambda: True, interval_s=0.05)
    (monitor.directory / "old-session.ts").parent.mkdir(parents=True)
    (monitor.directory / "old-session.ts").write_bytes(b"\x47" * 188)  # last session's file
    await monitor.start()
    await writer.start()
    try:
        await asyncio.sleep(1.0)
        assert monitor.state == "writing"
    finally:
        await writer.stop()
    proof = await monitor.finish()
    assert monitor.alerts == []
    [f] = proof["files"]
    path = writer.files[0]
    assert f["name"] == path.name != "old-session.ts"
    assert f["size"] == path.stat().st_size > 0
    assert f["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert f["duration_source"] in ("ffprobe", "ffprobe not installed")
    [entry] = [r for r in audit.records() if r["action"] == "recording.file"]
    assert entry["data"]["files"][0]["sha256"] == f["sha256"]
    assert audit.verify().ok


async def test_a_stalled_file_raises_the_alert_within_the_window(
    tmp_path: Path, store: StateStore
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    monitor = _monitor(tmp_path, audit, store)
    writer = RecordingWriter(monitor.directory, lambda: True, interval_s=0.05, stall_after_s=0.3)
    queue = store.subscribe()
    await monitor.start()
    await writer.start()
    try:
        await _first(queue, "recording-file", 2.0)
        change = await _first(queue, "recording-stalled", monitor.window_s + 2.0)
        stalled_at = time.monotonic()
        last_growth = monitor.files[-1].last_growth
        alert = store.recording_alert
    finally:
        await writer.stop()
        proof = await monitor.finish()
    # the alert comes one window after the last growth, give or take a check interval
    assert stalled_at - last_growth <= monitor.window_s + 3 * INTERVAL_S + 0.5
    assert change.payload["message"].startswith(NOT_RECORDING)
    assert store.points["trung-tam"].recording is False
    assert alert is not None and alert.startswith(NOT_RECORDING)
    assert store.recording_alert is None  # cleared at the end of the session
    assert store.session.recording is False
    assert proof["state"] == "stalled"
    assert [a["kind"] for a in proof["alerts"]] == ["recording-stalled"]
    assert [r["data"]["kind"] for r in audit.records() if r["action"] == "recording.alert"] == [
        "recording-stalled"
    ]


async def test_no_file_at_all_raises_the_missing_alert_and_a_late_file_clears_it(
    tmp_path: Path, store: StateStore
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    monitor = _monitor(tmp_path, audit, store)
    calling = False
    writer = RecordingWriter(monitor.directory, lambda: calling, interval_s=0.05)
    queue = store.subscribe()
    await monitor.start()
    await writer.start()
    try:
        await _first(queue, "recording-missing", monitor.window_s + 2.0)
        assert store.points["trung-tam"].recording is False
        calling = True  # the recorder's call comes up late: a file appears and grows
        await _first(queue, "recording-resumed", 3.0)
        assert store.points["trung-tam"].recording is True
    finally:
        await writer.stop()
        proof = await monitor.finish()
    assert proof["state"] == "writing"
    assert [a["kind"] for a in proof["alerts"]] == ["recording-missing"]


@pytest.mark.parametrize(
    "bad",
    [
        {"directory": "x", "pattern": "sub/*.mp4"},
        {"directory": "x", "pattern": ".."},
        {"directory": "a/../b"},
        {"directory": "x", "window_min": 0},
        {"directory": "x", "window_min": 1000},
        {"directory": "x", "surprise": 1},
    ],
)
def test_storage_section_rejects_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RecordingStorage.model_validate(bad)


def test_relative_storage_is_under_the_state_directory(tmp_path: Path) -> None:
    rel = RecordingStorage(directory=Path("recordings"))
    assert rel.resolved(tmp_path) == tmp_path / "recordings"
    absolute = RecordingStorage(directory=Path("/mnt/ghi-hinh"))
    assert absolute.resolved(tmp_path) == Path("/mnt/ghi-hinh")
    assert RecordingStorage(directory=Path("x"), window_min=5).interval_s == 15.0
