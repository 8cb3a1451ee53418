"""APScheduler with a persistent SQLite job store: re-planning, catch-up after an outage, ledger."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

from profiles.schema import SessionPlan, SessionsConfig
from scheduler.actions import LoggingActions
from scheduler.calendar import Calendar, Skip
from scheduler.clock import SystemClock
from scheduler.db import ScheduleDb
from scheduler.service import SessionScheduler

TZ = "Asia/Ho_Chi_Minh"


def session_at(start: dt.datetime, duration: str = "1h") -> SessionsConfig:
    """A one-off session starting at `start` (seconds kept: tests need short offsets)."""
    local = start.astimezone(dt.timezone(dt.timedelta(hours=7)))
    return SessionsConfig.model_validate(
        {
            "one_off": [
                {
                    "id": "phien",
                    "title": "Phiên thử",
                    "date": local.date().isoformat(),
                    "start": local.time().isoformat(),
                    "duration": duration,
                }
            ]
        }
    )


def make(
    db: ScheduleDb, sessions: SessionsConfig, actions: LoggingActions, **kw: Any
) -> tuple[SessionScheduler, list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    audit: list[tuple[str, dict[str, Any]]] = []

    def sink(action: str, **data: Any) -> None:
        audit.append((action, data))

    sched = SessionScheduler(
        db=db,
        calendar=Calendar(sessions, TZ),
        plan=SessionPlan(),
        actions=actions,
        clock=SystemClock(),
        node="test",
        audit=sink,
        on_event=lambda kind, payload: events.append((kind, payload)),
        **kw,
    )
    return sched, events, audit


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_replan_is_idempotent_and_follows_skips(tmp_path: Path) -> None:
    db = ScheduleDb(f"sqlite:///{tmp_path / 's.sqlite'}")
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    sessions = session_at(start)
    sched, _, _ = make(db, sessions, LoggingActions())
    await sched.start()
    try:
        first = sched.replan()
        assert (first.scheduled, first.added, first.removed) == (4, 4, 0)
        ids = sorted(j["id"].split("#")[1] for j in sched.jobs())
        assert ids == ["bringup", "drill-1d", "drill-2h", "teardown"]
        again = sched.replan()
        assert (again.added, again.removed) == (0, 0)
        local_day = start.astimezone(sched.calendar.tz).date()
        sched.update(Calendar(sessions, TZ, [Skip("phien", local_day)]), SessionPlan())
        # a one-off cannot be skipped by rule: the calendar ignores it, the jobs stay
        assert sched.replan().removed == 0
        sched.update(Calendar(SessionsConfig(), TZ), SessionPlan())
        assert sched.replan().removed == 4
        assert sched.jobs() == []
    finally:
        await sched.stop()
        db.dispose()


async def test_catch_up_after_a_simulated_outage(tmp_path: Path) -> None:
    """Daemon 1 plans and dies before the bring-up; daemon 2 starts later and catches up."""
    db = ScheduleDb(f"sqlite:///{tmp_path / 's.sqlite'}")
    now = dt.datetime.now(dt.UTC)
    start = now + dt.timedelta(minutes=15, seconds=0.4)  # bring-up due in 0.4 s
    sessions = session_at(start)
    first_actions = LoggingActions()
    first, _, _ = make(db, sessions, first_actions)
    await first.start()
    report = first.replan()  # drills (T-1d, T-2h) are overdue: T-2h caught up, T-1d missed
    assert [j.split("#")[1] for j in report.catch_up] == ["drill-2h"]
    assert [j.split("#")[1] for j in report.missed] == ["drill-1d"]
    await first.stop()  # the daemon dies before anything fires
    assert first_actions.calls == []

    await asyncio.sleep(0.6)  # the outage: the bring-up time passes

    actions = LoggingActions()
    second, events, audit = make(db, sessions, actions, late_after_s=0.1)
    await second.start()
    try:
        report = second.replan()
        assert [j.split("#")[1] for j in report.missed] == ["drill-2h"]  # bring-up covers it
        assert [j.split("#")[1] for j in report.catch_up] == ["bringup"]
        second.resume()
        await wait_for(lambda: any(k == "job-finished" for k, _ in events))
        assert [(kind, label) for kind, _key, label in actions.calls] == [("bringup", "")]
        kinds = [k for k, _ in events]
        assert kinds == ["job-missed", "job-late", "job-started", "job-finished"]
        late = dict(events)["job-late"]
        assert late["job_id"].endswith("#bringup")
        assert late["late_s"] >= 0.1
        assert {a for a, _ in audit} == {
            "scheduler.job-missed",
            "scheduler.job-late",
            "scheduler.job-finished",
        }
        runs = {r.job_id.split("#")[1]: r.status for r in db.runs()}
        assert runs == {"drill-1d": "missed", "drill-2h": "missed", "bringup": "done"}
        # the job store only holds the teardown now
        assert [j["id"].split("#")[1] for j in second.jobs()] == ["teardown"]
        # re-planning again neither re-runs nor re-reports anything
        again = second.replan()
        assert (again.catch_up, again.missed) == ([], [])
    finally:
        await second.stop()
        db.dispose()


async def test_a_claimed_job_never_runs_twice(tmp_path: Path) -> None:
    db = ScheduleDb(f"sqlite:///{tmp_path / 's.sqlite'}")
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    actions = LoggingActions()
    sched, _, _ = make(db, session_at(start), actions)
    await sched.start()
    try:
        occ = sched.calendar.upcoming(dt.datetime.now(dt.UTC))[0]
        args = ("drill", "phien", occ.start.isoformat(), "T-2h", start.isoformat())
        await asyncio.gather(sched.execute(*args), sched.execute(*args), sched.execute(*args))
        assert len(actions.calls) == 1
        assert [r.status for r in db.runs()] == ["done"]
    finally:
        await sched.stop()
        db.dispose()


async def test_a_drill_after_the_session_started_is_reported_not_run(tmp_path: Path) -> None:
    db = ScheduleDb(f"sqlite:///{tmp_path / 's.sqlite'}")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    actions = LoggingActions()
    sched, events, _ = make(db, session_at(start), actions)
    await sched.start()
    try:
        occ = sched.calendar.upcoming(dt.datetime.now(dt.UTC))[0]
        due = (start - dt.timedelta(hours=2)).isoformat()
        await sched.execute("drill", "phien", occ.start.isoformat(), "T-2h", due)
        assert actions.calls == []
        assert [k for k, _ in events] == ["job-missed"]
        assert [r.status for r in db.runs()] == ["missed"]
    finally:
        await sched.stop()
        db.dispose()
