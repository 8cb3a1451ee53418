"""Durable state under faults (issue 16): torn audit tail, unwritable audit log and state
directory, damaged SQLite files, concurrent first use of the scheduler database.

Every command runs as a subprocess, as a technician or cron runs it; the device is the Tesira
simulator, whose own state says whether a refused command touched it. No case may exit 4.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hil.genprofile import demo_data, remap_ports, write_profile
from hil.sim.tesira import TesiraSim
from mcu_control.audit import AuditLog

ROOT = Path(__file__).resolve().parents[2]
SECRET = "durable-state-secret"


@dataclass
class Rig:
    profile: Path
    state: Path
    mixer: TesiraSim
    env: dict[str, str]

    def muted(self) -> bool:
        """The simulator's own state of the central point's chairman microphone."""
        return self.mixer.blocks["MicMute"].mute[0]


@pytest.fixture
async def rig(tmp_path: Path, _no_leftover_tasks: None) -> AsyncIterator[Rig]:
    mixer = TesiraSim(transport="telnet")
    await mixer.start()
    data = remap_ports(demo_data())
    central = data["points"][0]
    central["mixer"]["port"] = mixer.port
    central["mixer"]["timeout_s"] = 2.0
    profile = write_profile(data, tmp_path)
    state = tmp_path / "state"
    env = {**os.environ, "MCU_CONTROL_DEMO_SECRET": SECRET, "MCU_CONTROL_STATE_DIR": str(state)}
    try:
        yield Rig(profile, state, mixer, env)
    finally:
        await mixer.stop()


async def cli(rig: Rig, *args: str, state: str | None = None) -> tuple[int, str, str]:
    """Run mcu-control without blocking the simulator's loop: (exit code, stdout, stderr)."""
    front = ["--profile", str(rig.profile)]
    if state is not None:
        front += ["--state-dir", state]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *front,
        *args,
        cwd=ROOT,
        env=rig.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    assert proc.returncode != 4, err.decode()
    return proc.returncode, out.decode(), err.decode()


def seed_audit(state: Path, n: int = 2) -> AuditLog:
    log = AuditLog(state / "audit.jsonl")
    for i in range(n):
        log.append("mixer.mute", target="trung-tam.mixer", channel=f"mic-{i}", muted=True)
    return log


# ---------------------------------------------------------------------- audit log


async def test_torn_audit_tail_is_quarantined_recorded_and_commands_go_on(rig: Rig) -> None:
    log = seed_audit(rig.state)
    torn = b'{"action": "mixer.mute", "seq": 3, "at": "2026-11-'  # a power cut mid-write
    with log.path.open("ab") as fh:
        fh.write(torn)

    code, out, err = await cli(rig, "mixer", "mute", "trung-tam", "mic-chu-tri", "--json")
    assert code == 0, err
    assert rig.muted()

    actions = [r["action"] for r in log.records()]
    # the orchestrator audits the intent before acting and the result after it
    assert actions == [
        "mixer.mute",
        "mixer.mute",
        "audit.repaired",
        "mixer.mute.intent",
        "mixer.mute",
    ]
    repair = log.records()[2]["data"]
    assert repair["removed_bytes"] == len(torn)
    assert torn in log.quarantine_path.read_bytes()

    code, out, err = await cli(rig, "audit", "verify", "--json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["ok"] is True
    assert result["records"] == 5
    assert [r["removed_bytes"] for r in result["repairs"]] == [len(torn)]
    assert result["repairs"][0]["quarantine"].endswith("audit.jsonl.quarantine")


async def test_verify_names_an_unrepaired_torn_tail_and_show_survives_garbage(rig: Rig) -> None:
    log = seed_audit(rig.state, 3)
    lines = log.path.read_bytes().splitlines(keepends=True)
    # garbage in the middle (an edit, a bad sector) and a tail of NULs (a power cut on ext4)
    log.path.write_bytes(lines[0] + b"\x00\xff not json\n" + b"".join(lines[1:]) + b"\x00" * 40)

    code, out, err = await cli(rig, "audit", "show", "--json")
    assert code == 0, err
    entries = json.loads(out)
    assert [e.get("action", "?") for e in entries] == [
        "mixer.mute",
        "?",
        "mixer.mute",
        "mixer.mute",
        "?",
    ]
    assert entries[1]["unreadable"] is True
    assert entries[4]["unreadable"] is True  # the NUL tail
    code, out, err = await cli(rig, "audit", "show")
    assert code == 0, err
    assert "unreadable" in out

    code, out, err = await cli(rig, "audit", "verify", "--json")
    assert code == 2  # the garbage line is a broken chain, not a torn tail
    assert json.loads(out)["first_bad_line"] == 2


async def test_unwritable_audit_log_refuses_before_touching_the_device(rig: Rig) -> None:
    (rig.state / "audit.jsonl").mkdir(parents=True)  # cannot be opened for append
    assert not rig.muted()
    code, _, err = await cli(rig, "mixer", "mute", "trung-tam", "mic-chu-tri")
    assert code == 3
    assert str(rig.state / "audit.jsonl") in err
    assert not rig.muted()  # the simulator was never asked

    code, _out, err = await cli(
        rig, "schedule", "add", "phien-them", "2027-03-01", "09:00", "--title", "Phiên thêm"
    )
    assert code == 3
    assert str(rig.state / "audit.jsonl") in err
    db = rig.state / "scheduler.sqlite"
    if db.exists():  # nothing was saved before the refusal
        with contextlib.closing(sqlite3.connect(db)) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "mcu_schedule_changes" in tables:
                assert conn.execute("SELECT count(*) FROM mcu_schedule_changes").fetchone() == (0,)


async def test_full_disk_refuses_before_touching_the_device(rig: Rig) -> None:
    rig.state.mkdir(mode=0o750)
    seed_audit(rig.state)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(rig.state)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here to fill")
    try:
        seed_audit(rig.state)
        with contextlib.suppress(OSError), (rig.state / "filler").open("wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        code, _, err = await cli(rig, "mixer", "mute", "trung-tam", "mic-chu-tri")
        assert code == 3
        assert "disk is full" in err
        assert not rig.muted()
    finally:
        subprocess.run(["umount", str(rig.state)], check=False, capture_output=True)


async def test_scheduled_bringup_goes_on_and_alerts_when_the_audit_log_is_unwritable(
    tmp_path: Path, chaos_rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from mcu_control.runtime import OrchestratorActions, SiteHolder
    from mcu_control.state import StateStore
    from scheduler.calendar import Occurrence

    bad = tmp_path / "state" / "audit.jsonl"
    bad.mkdir(parents=True)
    async with chaos_rig() as (_site, _rig, loaded):
        store = StateStore()
        store.seed(loaded.profile)
        events = store.subscribe()
        holder = SiteHolder(loaded, store, AuditLog(bad))
        actions = OrchestratorActions(holder, tmp_path / "state")
        start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
        occ = Occurrence("phien", "Phiên", start, start + dt.timedelta(hours=3))
        try:
            with caplog.at_level(logging.ERROR, logger="mcu_control"):
                await asyncio.wait_for(actions.bringup(occ), 60)
        finally:
            await holder.site.close()
    assert store.points["trung-tam"].call_state is not None or any(
        p.call_state == "connected" for p in store.points.values()
    )
    seen = []
    while not events.empty():
        change = events.get_nowait()
        if change.kind == "event":
            seen.append(change.payload)
    gaps = [e for e in seen if e["type"] == "audit-gap"]
    assert len(gaps) == 1  # one alert, not one per record
    assert gaps[0]["file"] == str(bad)
    assert any(e["type"] == "bringup-finished" or e["type"].startswith("bringup") for e in seen)
    assert "AUDIT GAP" in caplog.text
    assert "session.bringup" in caplog.text


# ---------------------------------------------------------------------- state directory


def _read_only(path: Path) -> contextlib.AbstractContextManager[None]:
    """Make `path` read-only for this process's children: a ro bind mount as root, else 0555."""

    @contextlib.contextmanager
    def chmod() -> Iterator[None]:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o750)

    @contextlib.contextmanager
    def bind() -> Iterator[None]:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True, capture_output=True)
        try:
            subprocess.run(
                ["mount", "-o", "remount,ro,bind", str(path)], check=True, capture_output=True
            )
            yield
        finally:
            subprocess.run(["umount", str(path)], check=False, capture_output=True)

    if os.geteuid() != 0:
        return chmod()
    probe = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("running as root without the right to mount: cannot make a folder read-only")
    subprocess.run(["umount", str(path)], check=False, capture_output=True)
    return bind()


async def test_read_only_state_dir_is_exit_3_before_any_device(rig: Rig) -> None:
    rig.state.mkdir(mode=0o750)
    with _read_only(rig.state):
        code, _out, err = await cli(rig, "mixer", "mute", "trung-tam", "mic-chu-tri")
    assert code == 3
    assert str(rig.state) in err
    assert "read-only" in err or "permission denied" in err
    assert not rig.muted()


@pytest.mark.parametrize("case", ["file", "under-file", "empty"])
async def test_misplaced_state_dir_is_exit_3_with_what_to_fix(
    rig: Rig, tmp_path: Path, case: str
) -> None:
    afile = tmp_path / "not-a-dir"
    afile.write_text("x")
    state = {"file": str(afile), "under-file": str(afile / "state"), "empty": ""}[case]
    code, _out, err = await cli(rig, "mixer", "mute", "trung-tam", "mic-chu-tri", state=state)
    assert code == 3
    expected = {"file": "is a file", "under-file": "which is a file", "empty": "is empty"}[case]
    assert expected in err
    assert not rig.muted()


async def test_state_dir_and_files_are_private_outside_systemd(rig: Rig) -> None:
    old = os.umask(0o022)  # a technician's shell
    try:
        code, _, err = await cli(rig, "mixer", "mute", "trung-tam", "mic-chu-tri")
        assert code == 0, err
        code, _, err = await cli(
            rig, "schedule", "add", "phien-rieng", "2027-02-01", "09:00", "--title", "Riêng"
        )
        assert code == 0, err
    finally:
        os.umask(old)
    assert rig.state.stat().st_mode & 0o777 == 0o750
    files = [p for p in rig.state.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"audit.jsonl", "scheduler.sqlite"}
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o640, p.name


# ---------------------------------------------------------------------- SQLite stores


def _store_drills(state: Path, n: int) -> Path:
    from mcu_control.drillstore import DrillStore
    from mcu_control.results import DrillReport

    store = DrillStore(state / "drills.sqlite")
    for i in range(n):
        store.save(
            DrillReport(
                id=f"drill-{i:03d}",
                site="bac-ninh",
                label="T-1d",
                quick=False,
                started_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i),
            )
        )
    with contextlib.closing(sqlite3.connect(store.path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store.path


async def test_random_bytes_in_drills_sqlite_are_set_aside_and_a_new_store_started(
    rig: Rig,
) -> None:
    rig.state.mkdir(mode=0o750)
    (rig.state / "drills.sqlite").write_bytes(os.urandom(16384))
    code, out, err = await cli(rig, "report", "drill", "--list", "--json")
    assert code == 1  # a warning: the history is gone
    assert json.loads(out) == []
    assert "drills.sqlite" in err
    assert "moved to drills.sqlite.corrupt-" in err
    aside = list(rig.state.glob("drills.sqlite.corrupt-*"))
    assert len(aside) == 1
    code, out, err = await cli(rig, "report", "drill", "--list", "--json")
    assert code == 0, err  # the new store is healthy


async def test_zeroed_page_in_drills_sqlite_gives_no_blank_rows(rig: Rig) -> None:
    rig.state.mkdir(mode=0o750)
    path = _store_drills(rig.state, 60)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    assert len(data) >= 3 * page
    data[page * 2 : page * 3] = bytes(page)  # page 3: a b-tree page of the drills table
    path.write_bytes(bytes(data))

    code, out, err = await cli(rig, "report", "drill", "--list", "--json")
    assert code == 1, err  # the integrity check found the page: set aside, with a warning
    rows = json.loads(out)
    assert all(r["id"] and r["verdict"] for r in rows)
    assert "drills.sqlite" in err
    assert "moved to drills.sqlite.corrupt-" in err


async def test_a_drill_whose_result_cannot_be_stored_still_gives_its_verdict(
    tmp_path: Path, chaos_rig: Any
) -> None:
    state = tmp_path / "state"
    (state / "drills.sqlite").mkdir(parents=True)  # cannot be opened as a database
    async with chaos_rig(device_timeout_s=3.0) as (_site, _rig, loaded):
        env = {
            **os.environ,
            "MCU_CONTROL_DEMO_SECRET": "rig-secret-2026",
            "MCU_CONTROL_STATE_DIR": str(state),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli",
            "--profile",
            str(loaded.path),
            "drill",
            "--quick",
            "--point",
            "trung-tam",
            "--json",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    report = json.loads(out)
    expected = {"pass": 0, "warn": 1, "fail": 2}[report["verdict"]]
    assert proc.returncode == expected, err.decode()
    assert "could not be stored" in err.decode()
    assert str(state / "drills.sqlite") in err.decode()


async def test_ten_concurrent_schedule_adds_on_a_fresh_state_dir_are_all_recorded(
    rig: Rig,
) -> None:
    day = dt.date.today() + dt.timedelta(days=30)
    results = await asyncio.gather(
        *(
            cli(
                rig,
                "schedule",
                "add",
                f"phien-{i}",
                (day + dt.timedelta(days=i)).isoformat(),
                "09:00",
                "--title",
                f"Phiên {i}",
                "--duration",
                "1h",
            )
            for i in range(10)
        )
    )
    assert [code for code, _, _ in results] == [0] * 10, [err for _, _, err in results]
    code, out, err = await cli(rig, "schedule", "changes", "--json")
    assert code == 0, err
    assert sorted(c["session_id"] for c in json.loads(out)["changes"]) == sorted(
        f"phien-{i}" for i in range(10)
    )
    log = AuditLog(rig.state / "audit.jsonl")
    assert [r["action"] for r in log.records()].count("schedule.add") == 10
    assert log.verify().ok  # ten writers in ten processes kept one chain
    with contextlib.closing(sqlite3.connect(rig.state / "scheduler.sqlite")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
