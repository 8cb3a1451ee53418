"""PostgreSQL goes away for the active daemon of a redundant pair.

Restarting the shared PostgreSQL server would disturb every other user of this machine, so
the outage is simulated per daemon: every backend whose application_name carries the active
node's id (its lock connection and its scheduler pool) is killed with pg_terminate_backend,
over and over for a few seconds, while a bring-up job falls due. The other daemon must take
over, exactly one daemon must be active afterwards, and the job must run exactly once.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import yaml
from daemon_support import ROOT, audit_actions, daemon_argv, pair_args, stop_daemons

from mcu_control.audit import AuditLog
from profiles.loader import SHIPPED_SITES
from scheduler.db import ScheduleDb
from scheduler.leader import pg_conninfo

CANDIDATES = [
    os.environ.get("MCU_CONTROL_TEST_PG_URL", ""),
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
]
LEAD_S = 15.0  # the job falls due this long after the test starts (both daemons start first)
AFTER_DUE_S = 2.0  # the outage lasts until this long after the job fell due


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
pytestmark = [
    pytest.mark.chaos,
    pytest.mark.slow,
    pytest.mark.skipif(PG_URL is None, reason="no PostgreSQL on 127.0.0.1:5432 (database `test`)"),
]


@pytest.fixture
def pg_schema() -> Iterator[str]:
    import psycopg

    assert PG_URL is not None
    name = f"mcu_chaos_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(pg_conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_pg_outage_for_the_active_daemon_fails_over_once(tmp_path: Path, pg_schema: str) -> None:
    import psycopg

    assert PG_URL is not None
    nodes = (f"chaos-a-{pg_schema[-6:]}", f"chaos-b-{pg_schema[-6:]}")
    # the bring-up (T−15 min) falls due while the active daemon's database is gone
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LEAD_S)
    start = (due + dt.timedelta(minutes=15)).replace(microsecond=0)
    due = start - dt.timedelta(minutes=15)
    profile = _profile(tmp_path, start)
    audits = {n: AuditLog(tmp_path / n / "audit.jsonl") for n in nodes}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {n: (tmp_path / f"{n}.stderr").open("wb") for n in nodes}
    try:
        for n in nodes:  # both at once: one wins the lock, the other stands by
            procs[n] = _daemon(profile, tmp_path / n, n, pg_schema, logs[n])
        t0 = time.monotonic()
        while not (
            _active(audits) == 1
            and all(audit_actions(a).count("daemon.start") for a in audits.values())
        ):
            assert time.monotonic() - t0 < 30, {n: _last_role(a) for n, a in audits.items()}
            time.sleep(0.05)
        active = next(n for n, a in audits.items() if _last_role(a) == "daemon.active")
        assert dt.datetime.now(dt.UTC) < due - dt.timedelta(seconds=1), (
            "machine too slow: the job fell due before the outage"
        )

        killed = 0
        with psycopg.connect(pg_conninfo(PG_URL), autocommit=True) as admin:
            # the database is gone for `active` only, from now until after the job fell due
            while dt.datetime.now(dt.UTC) < due + dt.timedelta(seconds=AFTER_DUE_S):
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name LIKE %s",
                    (f"%/{active}",),
                ).fetchall()
                killed += sum(1 for (ok,) in rows if ok)
                time.sleep(0.05)
        assert killed >= 1, "no backend of the active daemon was found to kill"

        # exactly one daemon active within 30 s, and it stays so
        t0 = time.monotonic()
        while _active(audits) != 1:
            assert time.monotonic() - t0 < 30, {n: _last_role(a) for n, a in audits.items()}
            time.sleep(0.1)
        time.sleep(1.5)
        assert _active(audits) == 1, {n: _last_role(a) for n, a in audits.items()}
        for node, proc in procs.items():
            assert proc.poll() is None, f"{node} exited with {proc.returncode}"
        t0 = time.monotonic()
        while not any(audit_actions(a).count("bringup.start") for a in audits.values()):
            assert time.monotonic() - t0 < 30, "the bring-up never ran"
            time.sleep(0.1)
        time.sleep(1.0)  # a second run, if there were one, would start meanwhile
    finally:
        stop_daemons(procs.values())
        for fh in logs.values():
            fh.close()

    # the bring-up job ran once (it fails: no rig behind this profile; that is not the point)
    assert sum(audit_actions(a).count("bringup.start") for a in audits.values()) == 1
    db = ScheduleDb(PG_URL, schema=pg_schema)
    try:
        runs = db.runs()
        jobs = [r.job_id for r in runs]
        assert len(jobs) == len(set(jobs))  # one ledger row per job: nothing ran twice
        bringups = [r for r in runs if r.job_id.endswith("#bringup")]
        assert len(bringups) == 1, [(r.job_id, r.node, r.status) for r in runs]
        assert bringups[0].status in ("done", "failed")
    finally:
        db.dispose()
    for node in nodes:  # scheduler events reached the store (regression: 'kind' collision)
        log = (tmp_path / f"{node}.stderr").read_text(encoding="utf-8", errors="replace")
        assert "event callback failed" not in log, log[-2000:]


def _profile(tmp_path: Path, start: dt.datetime) -> Path:
    data: dict[str, Any] = yaml.safe_load((SHIPPED_SITES / "demo.yaml").read_text(encoding="utf-8"))
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
    path = tmp_path / "sites" / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _daemon(
    profile: Path, state: Path, node: str, schema: str, stderr: IO[bytes]
) -> subprocess.Popen[bytes]:
    assert PG_URL is not None
    return subprocess.Popen(
        daemon_argv(profile, state, *pair_args(PG_URL, schema, node)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env={**os.environ, "MCU_CONTROL_LATE_AFTER_S": "5"},
    )


def _last_role(audit: AuditLog) -> str:
    if not audit.path.exists():
        return "none"
    roles = [
        r["action"] for r in audit.records() if r["action"] in ("daemon.active", "daemon.standby")
    ]
    return roles[-1] if roles else "none"


def _active(audits: dict[str, AuditLog]) -> int:
    return sum(1 for a in audits.values() if _last_role(a) == "daemon.active")
