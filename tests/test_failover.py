"""A redundant pair on PostgreSQL: one active daemon, takeover after kill -9, no double run."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from daemon_support import ROOT, daemon_argv, pair_args, stop_daemons, wait_audit

from mcu_control.audit import AuditLog
from profiles.loader import SHIPPED_SITES
from profiles.schema import SessionPlan, SessionsConfig
from scheduler.actions import LoggingActions
from scheduler.calendar import Calendar
from scheduler.clock import SystemClock
from scheduler.db import ScheduleDb
from scheduler.leader import PgAdvisoryLeadership, lock_key, pg_conninfo
from scheduler.service import SessionScheduler

CANDIDATES = [
    os.environ.get("MCU_CONTROL_TEST_PG_URL", ""),
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
]


def _reachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return None
    for url in filter(None, CANDIDATES):
        try:
            psycopg.connect(pg_conninfo(url), connect_timeout=2).close()
        except psycopg.Error:
            continue
        return url
    return None


PG_URL = _reachable()
pytestmark = pytest.mark.skipif(
    PG_URL is None, reason="no PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth)"
)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A schema of our own for this test, dropped afterwards."""
    import psycopg

    assert PG_URL is not None
    name = f"mcu_test_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def test_advisory_lock_is_exclusive_and_freed_on_release(pg_schema: str) -> None:
    assert PG_URL is not None
    key = lock_key(f"test/{pg_schema}")
    a = PgAdvisoryLeadership(pg_conninfo(PG_URL), key)
    b = PgAdvisoryLeadership(pg_conninfo(PG_URL), key)
    try:
        assert await a.try_acquire()
        assert not await b.try_acquire()
        assert await a.still_held()
        await a.release()
        assert not await a.still_held()
        assert await b.try_acquire()
    finally:
        await a.release()
        await b.release()


async def test_split_brain_cannot_double_run_a_job(pg_schema: str) -> None:
    """Two schedulers that both think they are active race for one job: one runs it."""
    assert PG_URL is not None
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    local = start.astimezone(dt.timezone(dt.timedelta(hours=7)))
    sessions = SessionsConfig.model_validate(
        {
            "one_off": [
                {
                    "id": "phien",
                    "title": "P",
                    "date": local.date().isoformat(),
                    "start": local.time().isoformat(),
                }
            ]
        }
    )
    runs: list[LoggingActions] = []
    scheds: list[SessionScheduler] = []
    dbs: list[ScheduleDb] = []
    for node in ("a", "b"):
        db = ScheduleDb(PG_URL, schema=pg_schema)
        actions = LoggingActions()
        s = SessionScheduler(
            db=db,
            calendar=Calendar(sessions),
            plan=SessionPlan(),
            actions=actions,
            clock=SystemClock(),
            node=node,
        )
        await s.start()
        dbs.append(db)
        runs.append(actions)
        scheds.append(s)
    try:
        occ = scheds[0].calendar.upcoming(dt.datetime.now(dt.UTC))[0]
        args = ("bringup", "phien", occ.start.isoformat(), "T-15m", start.isoformat())
        await asyncio.gather(*(s.execute(*args) for s in scheds for _ in range(3)))
        assert sum(len(a.calls) for a in runs) == 1
        assert [r.status for r in dbs[0].runs()] == ["done"]
    finally:
        for s in scheds:
            await s.stop()
        for db in dbs:
            db.dispose()


def _daemon(profile: Path, state: Path, node: str, schema: str) -> subprocess.Popen[bytes]:
    assert PG_URL is not None
    state.mkdir(parents=True, exist_ok=True)
    with (state / "daemon.log").open("wb") as log:  # read when the test fails
        return subprocess.Popen(
            daemon_argv(profile, state, *pair_args(PG_URL, schema, node)),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={
                **os.environ,
                "MCU_CONTROL_LATE_AFTER_S": "5",
                "MCU_CONTROL_JOB_STALE_AFTER_S": "2",
                "MCU_CONTROL_DEMO_SECRET": "failover-test",
            },
        )


@contextlib.contextmanager
def tarpit() -> Iterator[int]:
    """A TCP port that accepts and never answers: an MCU that hangs, so a drill stays running."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        done.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_failover_after_kill_9_runs_the_due_job_exactly_once(
    tmp_path: Path, pg_schema: str
) -> None:
    """A is killed mid-drill: B takes the lock, runs the interrupted drill again, then the bring-up."""
    assert PG_URL is not None
    data: dict[str, Any] = yaml.safe_load((SHIPPED_SITES / "demo.yaml").read_text(encoding="utf-8"))
    # the bring-up (T−15 min) falls due ~12 s from now (two daemons start meanwhile)
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15, seconds=12)).replace(microsecond=0)
    local = start.astimezone(dt.timezone(dt.timedelta(hours=7)))
    data["sessions"]["rules"] = []
    data["sessions"]["one_off"] = [
        {
            "id": "phien",
            "title": "Phiên thử",
            "date": local.date().isoformat(),
            "start": local.time().isoformat(),
            "duration": "1h",
        }
    ]
    (tmp_path / "sites").mkdir()
    profile = tmp_path / "sites" / "p.yaml"
    audit_a = AuditLog(tmp_path / "a" / "audit.jsonl")
    audit_b = AuditLog(tmp_path / "b" / "audit.jsonl")

    a: subprocess.Popen[bytes] | None = None
    b: subprocess.Popen[bytes] | None = None
    with tarpit() as mcu_port:
        mcu = data["points"][0]["mcu"]
        mcu["port"], mcu["timeout_s"] = mcu_port, 60  # the drill hangs on the MCU for a minute
        profile.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        try:
            a = _daemon(profile, tmp_path / "a", "pc-a", pg_schema)
            wait_audit(audit_a, "daemon.active", 20)
            b = _daemon(profile, tmp_path / "b", "pc-b", pg_schema)
            wait_audit(audit_b, "daemon.start", 20)
            time.sleep(1.0)  # B polls the lock twice meanwhile
            assert "daemon.active" not in [r["action"] for r in audit_b.records()]
            # A caught up the overdue T−2h drill (the T−1d one is reported missed); it hangs
            wait_audit(audit_a, "drill.start", 5)
            assert dt.datetime.now(dt.UTC) < start - dt.timedelta(minutes=15), "machine too slow"

            a.send_signal(signal.SIGKILL)
            a.wait(timeout=5)
            takeover = wait_audit(audit_b, "daemon.active", 30)
            print(f"standby active {takeover:.2f} s after kill -9")
            assert takeover < 30
            # A's drill row stays `claimed` with a silent heartbeat: B runs the drill again
            wait_audit(audit_b, "scheduler.job-interrupted", 20)
            wait_audit(audit_b, "drill.start", 10)
            wait_audit(audit_b, "bringup.start", 30)
        finally:
            stop_daemons((a, b))

    db = ScheduleDb(PG_URL, schema=pg_schema)
    try:
        rows = db.runs()
    finally:
        db.dispose()
    runs = {r.job_id.split("#")[1]: r for r in rows}
    assert len(rows) == len(runs)  # one row per job: nothing ran twice
    # no device answers, so the jobs end "failed" or are cut at SIGTERM; what matters here is
    # who ran each job, and that each ran once per daemon
    assert (runs["drill-1d"].node, runs["drill-1d"].status) == ("pc-a", "missed")
    drill = runs["drill-2h"]
    assert drill.node == "pc-b"
    # the re-run drill ends on its own, or is stopped when the bring-up falls due
    assert drill.status in {"done", "failed", "interrupted"}
    assert "run again by pc-b: pc-a stopped while running it" in drill.detail
    assert runs["bringup"].node == "pc-b"
    taken = [
        r["data"]["previous_node"]
        for r in audit_b.records()
        if r["action"] == "scheduler.job-interrupted" and "previous_node" in r["data"]
    ]
    assert taken == ["pc-a"]
    acts_a = [r["action"] for r in audit_a.records()]
    acts_b = [r["action"] for r in audit_b.records()]
    assert acts_a.count("drill.start") == 1
    assert acts_b.count("drill.start") == 1
    assert "bringup.start" not in acts_a
