"""The daemon: leadership, components, reload, and `mcu-control run` under signals."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from daemon_support import ROOT, daemon_argv, wait_audit

from mcu_control.audit import AuditLog
from mcu_control.daemon import Daemon, DaemonConfig
from profiles.loader import LoadedProfile, load_profile
from scheduler.calendar import AddedSession
from scheduler.db import ScheduleDb


def one_off(start: dt.datetime, sid: str = "phien") -> dict[str, Any]:
    local = start.astimezone(dt.timezone(dt.timedelta(hours=7)))
    return {
        "id": sid,
        "title": "Phiên thử",
        "date": local.date().isoformat(),
        "start": local.time().replace(microsecond=0).isoformat(),
        "duration": "1h",
    }


class Recorder:
    """A component that records what the daemon asked of it."""

    name = "recorder"

    def __init__(self) -> None:
        self.log: list[str] = []

    async def start(self) -> None:
        self.log.append("start")

    async def stop(self) -> None:
        self.log.append("stop")

    async def reload(self, loaded: LoadedProfile) -> None:
        self.log.append(f"reload:{len(loaded.profile.sessions.one_off)}")


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def actions_of(audit: AuditLog) -> list[str]:
    return [r["action"] for r in audit.records()]


async def test_daemon_plans_reloads_and_follows_schedule_changes(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    demo_profile_data["sessions"]["rules"] = []
    demo_profile_data["sessions"]["one_off"] = [one_off(soon)]
    path = write_profile(demo_profile_data)
    state = tmp_path / "state"
    comp = Recorder()
    daemon = Daemon(
        load_profile(path),
        state_dir=state,
        components=[comp],
        config=DaemonConfig(leader_poll_s=0.05, node_id="a"),
    )
    standby = Daemon(load_profile(path), state_dir=state, config=DaemonConfig(leader_poll_s=0.05))
    task = asyncio.create_task(daemon.run(install_signals=False))
    task2: asyncio.Task[None] | None = None
    try:
        await until(lambda: daemon.active)
        assert daemon.scheduler is not None
        assert len(daemon.scheduler.jobs()) == 4
        assert comp.log == ["start"]
        # a second daemon on the same state dir stays standby (flock)
        task2 = asyncio.create_task(standby.run(install_signals=False))
        await asyncio.sleep(0.3)
        assert not standby.active

        path.write_text("site: [broken", encoding="utf-8")
        daemon.request_reload()
        await until(lambda: "daemon.reload-failed" in actions_of(daemon.audit))
        assert len(daemon.scheduler.jobs()) == 4
        assert comp.log == ["start"]

        demo_profile_data["sessions"]["one_off"].append(one_off(soon, "phien-2"))
        write_profile(demo_profile_data)
        daemon.request_reload()
        await until(lambda: len(daemon.scheduler.jobs()) == 8 if daemon.scheduler else False)
        await until(lambda: comp.log == ["start", "reload:2"])  # after the re-plan

        # a `schedule add` from the CLI reaches the running daemon within a poll
        db = ScheduleDb(f"sqlite:///{state / 'scheduler.sqlite'}")
        local = soon.astimezone(dt.timezone(dt.timedelta(hours=7)))
        db.add_change(AddedSession("them", "Thêm", local.date(), dt.time(6, 0), 3600))
        db.dispose()
        await until(lambda: len(daemon.scheduler.jobs()) == 12 if daemon.scheduler else False)
    finally:
        daemon.request_stop()
        await task
        standby.request_stop()
        if task2 is not None:
            await task2
    assert comp.log[-1] == "stop"
    assert actions_of(daemon.audit)[-1] == "daemon.stop"


def run_daemon(
    profile: Path, state: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        daemon_argv(profile, state, *extra),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_run_under_systemd_notify_reload_and_sigterm_within_5s(
    tmp_path: Path,
    demo_profile_data: dict[str, Any],
    write_profile: Callable[[dict[str, Any]], Path],
) -> None:
    demo_profile_data["sessions"]["one_off"] = [
        one_off(dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    ]
    path = write_profile(demo_profile_data)
    state = tmp_path / "state"
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(15)
    env = {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "200000"}
    proc = run_daemon(path, state, "--leader-poll", "0.2", env=env)
    audit = AuditLog(state / "audit.jsonl")
    try:
        messages: list[str] = []
        while not any(m.startswith("READY=1") for m in messages):
            messages.append(sock.recv(4096).decode())
        wait_audit(audit, "daemon.active")
        # watchdog pings at half of WATCHDOG_USEC; let activation (supervisors starting) settle,
        # then drop what queued up meanwhile
        time.sleep(1.5)
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                sock.recv(4096)
        sock.setblocking(True)
        sock.settimeout(2)
        pings = 0
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if sock.recv(4096).decode() == "WATCHDOG=1":
                pings += 1
        assert 3 <= pings <= 15  # ~10 expected at 0.1 s

        path.write_text("points: 3\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_audit(audit, "daemon.reload-failed")
        write_profile(demo_profile_data)
        proc.send_signal(signal.SIGHUP)
        wait_audit(audit, "daemon.reload")
        assert proc.poll() is None

        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None and proc.stdout is not None
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    print(f"SIGTERM → exit in {elapsed:.2f} s")
    assert code == 0, err
    assert elapsed < 5.0
    rest: list[str] = []
    sock.settimeout(0.5)
    try:
        while True:
            rest.append(sock.recv(4096).decode())
    except TimeoutError:
        pass
    sock.close()
    assert "STOPPING=1" in rest
    assert "profile reload failed, keeping the running profile" in err
    assert actions_of(audit)[-1] == "daemon.stop"


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_sigint_also_stops_cleanly(
    tmp_path: Path,
    sig: signal.Signals,
    write_profile: Callable[[dict[str, Any]], Path],
    demo_profile_data: dict[str, Any],
) -> None:
    path = write_profile(demo_profile_data)
    state = tmp_path / "state"
    proc = run_daemon(path, state, "--leader-poll", "0.2")
    audit = AuditLog(state / "audit.jsonl")
    try:
        wait_audit(audit, "daemon.active")
        t0 = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0
    assert elapsed < 5.0
