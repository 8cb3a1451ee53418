"""The plan of a session and the re-planning decisions after an outage (fake clock)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

from profiles.loader import SHIPPED_SITES as SITES
from profiles.loader import load_profile
from profiles.schema import SessionPlan
from scheduler.calendar import Calendar
from scheduler.clock import FakeClock
from scheduler.plan import Horizon, PlannedJob, decide, plan_session

TZ = dt.timezone(dt.timedelta(hours=7))
KEY = "bi-thu-hang-quy@2026-03-10T08:00:00+07:00"


def bac_ninh() -> tuple[Calendar, SessionPlan]:
    p = load_profile(SITES / "bac-ninh.yaml").profile
    return Calendar(p.sessions, p.site.timezone), p.sessions.plan


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TZ)


def test_plan_times_of_one_session() -> None:
    cal, plan = bac_ninh()
    occ = cal.occurrences(dt.date(2026, 3, 10), dt.date(2026, 3, 10))[0]
    jobs = plan_session(occ, plan)
    assert [(j.job_id.split("#")[1], j.label, j.run_at) for j in jobs] == [
        ("drill-1d", "T-1d", at(9, 8)),
        ("drill-2h", "T-2h", at(10, 6)),
        ("bringup", "T-15m", at(10, 7, 45)),
        ("teardown", "end", at(10, 11, 30)),
    ]
    assert all(j.job_id.startswith(KEY + "#") for j in jobs)


def test_custom_plan_durations() -> None:
    cal, _ = bac_ninh()
    occ = cal.occurrences(dt.date(2026, 3, 10), dt.date(2026, 3, 10))[0]
    plan = SessionPlan(drills_before=["2d", "1h30m"], bringup_before="30m")
    assert [(j.label, j.run_at) for j in plan_session(occ, plan)] == [
        ("T-2d", at(6, 8)),  # T−2d is Sunday 8 March: the drill runs on Friday
        ("T-1h30m", at(10, 6, 30)),
        ("T-30m", at(10, 7, 30)),
        ("end", at(10, 11, 30)),
    ]


def ids(jobs: list[PlannedJob]) -> list[str]:
    return [j.job_id.split("#")[1] for j in jobs if j.job_id.startswith(KEY)]


def test_before_anything_is_due_all_jobs_are_planned() -> None:
    cal, plan = bac_ninh()
    d = decide(cal, plan, at(1, 0), lambda _id: False)
    assert ids(d.schedule) == ["drill-1d", "drill-2h", "bringup", "teardown"]
    assert d.catch_up == []
    assert d.missed == []


def test_missed_t1d_drill_runs_at_once_when_the_session_is_ahead() -> None:
    cal, plan = bac_ninh()
    d = decide(cal, plan, at(9, 9), lambda _id: False)
    assert ids(d.catch_up) == ["drill-1d"]
    assert ids(d.schedule) == ["drill-1d", "drill-2h", "bringup", "teardown"]


def test_two_missed_drills_run_once_the_earlier_is_reported_missed() -> None:
    cal, plan = bac_ninh()
    d = decide(cal, plan, at(10, 7), lambda _id: False)
    assert ids(d.catch_up) == ["drill-2h"]
    assert [(j.label, why) for j, why in d.missed] == [("T-1d", "superseded by the T-2h drill")]


def test_missed_bringup_runs_while_the_session_has_not_ended() -> None:
    cal, plan = bac_ninh()
    before_start = decide(cal, plan, at(10, 7, 50), lambda _id: False)
    assert ids(before_start.catch_up) == ["bringup"]
    assert {j.label for j, _ in before_start.missed} == {"T-1d", "T-2h"}
    during = decide(cal, plan, at(10, 9), lambda _id: False)
    assert ids(during.catch_up) == ["bringup"]
    assert {why for _, why in during.missed} == {"the session had already started"}


def test_missed_teardown_runs_at_once_within_the_lookback() -> None:
    cal, plan = bac_ninh()
    after = decide(cal, plan, at(10, 12), lambda _id: False)
    assert ids(after.catch_up) == ["teardown"]
    assert [j.kind for j, _ in after.missed] == ["drill", "drill", "bringup"]
    much_later = decide(cal, plan, at(11, 12), lambda _id: False)
    assert ids(much_later.catch_up) == []
    assert [why for j, why in much_later.missed if j.kind == "teardown"] == [
        "the session ended too long ago"
    ]


def test_jobs_that_already_ran_are_not_planned_again() -> None:
    cal, plan = bac_ninh()
    done = {f"{KEY}#drill-1d", f"{KEY}#drill-2h"}
    d = decide(cal, plan, at(10, 7), done.__contains__)
    assert ids(d.schedule) == ["bringup", "teardown"]
    assert d.missed == []


def test_rolling_horizon_keeps_at_least_two_sessions() -> None:
    cal, plan = bac_ninh()
    d = decide(cal, plan, at(1, 0, month=1), lambda _id: False, Horizon(days=60))
    starts = sorted({j.occurrence.start.date().isoformat() for j in d.schedule})
    assert starts == ["2026-03-10", "2026-06-10"]  # 60 days reach neither; two are kept
    d = decide(cal, plan, at(1, 0, month=1), lambda _id: False, Horizon(days=400, min_sessions=1))
    assert len({j.occurrence.key for j in d.schedule}) == 4


async def test_fake_clock_wakes_sleepers_when_advanced() -> None:
    clock = FakeClock(at(1, 0))
    woke: list[dt.datetime] = []

    async def sleeper() -> None:
        await clock.sleep(3600)
        woke.append(clock.now())

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0)
    clock.advance(1800)
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(1800)
    await task
    assert woke == [at(1, 1)]


def test_a_day_ahead_drill_moves_off_the_weekend_to_the_working_day_before() -> None:
    """10 June 2028 is a Saturday: the session shifts to Monday 12th; T−1d would be Sunday."""
    cal, plan = bac_ninh()
    [occ] = cal.occurrences(dt.date(2028, 6, 1), dt.date(2028, 6, 30))
    assert occ.start == dt.datetime(2028, 6, 12, 8, tzinfo=TZ)
    jobs = {j.label: j for j in plan_session(occ, plan, cal.workdays)}
    assert jobs["T-1d"].run_at == dt.datetime(2028, 6, 9, 8, tzinfo=TZ)  # Friday, same time
    assert jobs["T-1d"].job_id == f"{occ.key}#drill-1d"  # the ledger id does not change
    assert jobs["T-2h"].run_at == dt.datetime(2028, 6, 12, 6, tzinfo=TZ)
    exact = plan.model_copy(update={"drill_days": "any"})
    assert plan_session(occ, exact, cal.workdays)[0].run_at == dt.datetime(
        2028, 6, 11, 8, tzinfo=TZ
    )


def test_a_day_ahead_drill_skips_a_public_holiday_too() -> None:
    """A session on Monday 4 May 2026: T−1d is Sunday 3 May; Friday 1 May is Labour Day."""
    cal, plan = bac_ninh()
    occ = cal.occurrences(dt.date(2026, 3, 10), dt.date(2026, 3, 10))[0]
    monday = dt.datetime(2026, 5, 4, 8, tzinfo=TZ)
    occ = dataclasses.replace(occ, start=monday, end=monday + dt.timedelta(hours=3))
    [drill_1d, drill_2h, *_] = plan_session(occ, plan, cal.workdays)
    assert not cal.workdays.is_working_day(dt.date(2026, 5, 1))
    assert drill_1d.run_at == dt.datetime(2026, 4, 29, 8, tzinfo=TZ)  # Wed; 30 April is a holiday
    assert drill_2h.run_at == monday - dt.timedelta(hours=2)  # hours are never moved
