"""Jobs left `claimed` by a daemon that died mid-run: found by their silent heartbeat, run again."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from test_scheduler_service import TZ, session_at, wait_for

from profiles.schema import SessionPlan
from scheduler.actions import JobInterrupted, LoggingActions
from scheduler.calendar import Calendar, Occurrence
from scheduler.clock import FakeClock
from scheduler.db import ScheduleDb
from scheduler.service import RunningJobs, SessionScheduler

STALE_S = 30.0


class GatedActions(LoggingActions):
    """Actions whose drill waits for `gate`: a job that is still running."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def drill(self, occurrence: Occurrence, *, label: str) -> None:
        await super().drill(occurrence, label=label)
        await self.gate.wait()


class Node:
    """One daemon's scheduler on a shared ledger, with its events and audit records."""

    def __init__(
        self,
        db: ScheduleDb,
        start: dt.datetime,
        clock: FakeClock,
        name: str,
        *,
        actions: LoggingActions | None = None,
        running: RunningJobs | None = None,
    ) -> None:
        self.actions = actions or LoggingActions()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.audit: list[str] = []
        self.sched = SessionScheduler(
            db=db,
            calendar=Calendar(session_at(start), TZ),
            plan=SessionPlan(),
            actions=self.actions,
            clock=clock,
            node=name,
            audit=lambda action, **_: self.audit.append(action),
            on_event=lambda kind, payload: self.events.append((kind, payload)),
            running=running,
            stale_after_s=STALE_S,
        )

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


@pytest.fixture
def db(tmp_path: Path) -> Any:
    db = ScheduleDb(f"sqlite:///{tmp_path / 's.sqlite'}")
    db.create()
    yield db
    db.dispose()


def drill_2h(start: dt.datetime) -> tuple[str, dt.datetime]:
    """The ledger key of the session's T−2h drill, as the calendar names it."""
    occ = Calendar(session_at(start), TZ).upcoming(start - dt.timedelta(days=1))[0]
    return f"{occ.key}#drill-2h", occ.start - dt.timedelta(hours=2)


def left_by_dead_daemon(
    db: ScheduleDb, *, starts_in: dt.timedelta
) -> tuple[dt.datetime, str, FakeClock]:
    """pc-a claimed the session's T−2h drill, then was killed: its row stays `claimed`."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + starts_in
    job_id, run_at = drill_2h(start)
    assert db.claim(job_id, run_at, "pc-a")
    return start, job_id, FakeClock(now)


async def test_a_job_left_by_a_killed_daemon_is_run_again_after_its_heartbeat_stops(
    db: ScheduleDb,
) -> None:
    start, job_id, clock = left_by_dead_daemon(db, starts_in=dt.timedelta(hours=1))
    b = Node(db, start, clock, "pc-b")
    assert await b.sched.sweep() == []  # first sight: nothing known yet
    clock.advance(STALE_S - 1)
    assert await b.sched.sweep() == []
    assert b.actions.calls == []
    clock.advance(2)
    assert await b.sched.sweep() == [job_id]
    await wait_for(lambda: "job-finished" in b.kinds())
    assert [c[0] for c in b.actions.calls] == ["drill"]
    [row] = db.runs()
    assert (row.node, row.status) == ("pc-b", "done")
    assert "pc-a stopped while running it" in row.detail
    interrupted = dict(b.events)["job-interrupted"]
    assert interrupted["previous_node"] == "pc-a"
    assert interrupted["rerun"] is True
    assert "scheduler.job-interrupted" in b.audit
    assert await b.sched.sweep() == []  # done now: nothing left to take over
    await b.sched.stop()


async def test_a_beating_job_is_never_taken_over(db: ScheduleDb) -> None:
    """pc-a is alive and still running the drill: pc-b must leave it alone, however long."""
    start, job_id, clock = left_by_dead_daemon(db, starts_in=dt.timedelta(hours=1))
    b = Node(db, start, clock, "pc-b")
    for _ in range(30):  # five minutes of sweeps, a beat every 10 s
        db.beat([(job_id, drill_2h(start)[1])])
        assert await b.sched.sweep() == []
        clock.advance(10)
    assert b.actions.calls == []
    # then pc-a dies: the counter stops and the job is taken over one stale period later
    assert await b.sched.sweep() == []
    clock.advance(STALE_S)
    assert await b.sched.sweep() == [job_id]
    await wait_for(lambda: "job-finished" in b.kinds())
    await b.sched.stop()


async def test_a_drill_interrupted_before_the_session_started_is_closed_not_rerun(
    db: ScheduleDb,
) -> None:
    start, job_id, clock = left_by_dead_daemon(
        db, starts_in=-dt.timedelta(minutes=5)
    )  # the session is on; a drill now would disturb it
    b = Node(db, start, clock, "pc-b")
    await b.sched.sweep()
    clock.advance(STALE_S)
    assert await b.sched.sweep() == [job_id]
    assert b.actions.calls == []
    [row] = db.runs()
    assert row.status == "interrupted"
    assert row.finished_at is not None
    assert "not run again: the session had already started" in row.detail
    assert dict(b.events)["job-interrupted"]["rerun"] is False


async def test_two_active_daemons_take_over_a_dead_job_once(db: ScheduleDb) -> None:
    """Split brain: both sweep the same dead row at the same moment; one runs it."""
    start, _, clock = left_by_dead_daemon(db, starts_in=dt.timedelta(hours=1))
    nodes = [Node(db, start, clock, name) for name in ("pc-b", "pc-c")]
    await asyncio.gather(*(n.sched.sweep() for n in nodes))
    clock.advance(STALE_S)
    taken = await asyncio.gather(*(n.sched.sweep() for n in nodes))
    assert sorted(map(len, taken)) == [0, 1]
    await wait_for(lambda: any("job-finished" in n.kinds() for n in nodes))
    assert sum(len(n.actions.calls) for n in nodes) == 1


async def test_a_job_left_running_by_a_step_down_keeps_beating(db: ScheduleDb) -> None:
    """A step-down detaches a running drill; neither this process nor the peer re-runs it."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + dt.timedelta(hours=1)
    clock = FakeClock(now)
    running = RunningJobs()
    actions = GatedActions()
    a = Node(db, start, clock, "pc-a", actions=actions, running=running)
    await a.sched.start()
    occ = a.sched.calendar.upcoming(now)[0]
    job_id, run_at = drill_2h(start)
    run = asyncio.create_task(
        a.sched.execute("drill", "phien", occ.start.isoformat(), "T-2h", run_at.isoformat())
    )
    await wait_for(lambda: actions.calls != [])
    detached = await a.sched.stop(detach=True)  # lost the lock: pc-a is standby now
    assert len(detached) == 1
    assert job_id in running

    a_again = Node(db, start, clock, "pc-a", running=running)  # pc-a active again later
    peer = Node(db, start, clock, "pc-b")
    for _ in range(12):
        await running.beat(db)  # what the daemon's main loop does every tick
        assert await peer.sched.sweep() == []
        assert await a_again.sched.sweep() == []
        clock.advance(STALE_S / 3)
    actions.gate.set()
    await run
    [row] = db.runs()
    assert (row.node, row.status) == ("pc-a", "done")
    assert row.beats >= 12
    assert job_id not in running
    assert len(actions.calls) == 1


class PreemptedActions(LoggingActions):
    async def drill(self, occurrence: Occurrence, *, label: str) -> None:
        await super().drill(occurrence, label=label)
        raise JobInterrupted("stopped: the bring-up was due")


async def test_an_action_stopped_on_purpose_is_recorded_interrupted(db: ScheduleDb) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + dt.timedelta(hours=1)
    clock = FakeClock(now)
    a = Node(db, start, clock, "pc-a", actions=PreemptedActions())
    await a.sched.start()
    occ = a.sched.calendar.upcoming(now)[0]
    _, run_at = drill_2h(start)
    await a.sched.execute("drill", "phien", occ.start.isoformat(), "T-2h", run_at.isoformat())
    [row] = db.runs()
    assert (row.status, row.detail) == ("interrupted", "stopped: the bring-up was due")
    assert "job-interrupted" in a.kinds()
    assert "job-failed" not in a.kinds()
    await a.sched.stop()
