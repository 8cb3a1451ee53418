"""The plan of one session: drills at T−1 d and T−2 h, bring-up at T−15 min, teardown at the end.

`decide()` is the pure heart of re-planning: given the calendar, the time and which jobs have
already run, it says which jobs to schedule and which were missed for good.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from profiles.common import parse_duration
from profiles.schema import SessionPlan
from scheduler.calendar import Calendar, Occurrence, WorkingDays, working_days

JobKind = Literal["drill", "bringup", "teardown"]


@dataclass(frozen=True)
class PlannedJob:
    """One job of one session occurrence."""

    kind: JobKind
    label: str  # "T-1d", "T-2h", "T-15m", "end"
    run_at: dt.datetime  # aware
    occurrence: Occurrence

    @property
    def job_id(self) -> str:
        """Idempotent id: `<session>@<start iso>#drill-1d|bringup|teardown`."""
        suffix = f"drill-{self.label.removeprefix('T-')}" if self.kind == "drill" else self.kind
        return f"{self.occurrence.key}#{suffix}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "kind": self.kind,
            "label": self.label,
            "run_at": self.run_at.isoformat(),
        }


def plan_session(
    occ: Occurrence, plan: SessionPlan, workdays: WorkingDays | None = None
) -> list[PlannedJob]:
    """The jobs of one occurrence, in time order.

    With `plan.drill_days` "working", a whole-day drill (T−1d) that falls on a day off moves
    back to the previous working day; its label and job id stay, so the ledger still knows it.
    """
    days = workdays or working_days()
    jobs = []
    for d in plan.drills_before:
        seconds = parse_duration(d)
        run_at = occ.start - dt.timedelta(seconds=seconds)
        if plan.drill_days == "working" and seconds % 86400 == 0:
            run_at = _on_working_day(run_at, days)
        jobs.append(PlannedJob("drill", f"T-{d}", run_at, occ))
    bringup = occ.start - dt.timedelta(seconds=parse_duration(plan.bringup_before))
    jobs.append(PlannedJob("bringup", f"T-{plan.bringup_before}", bringup, occ))
    jobs.append(PlannedJob("teardown", "end", occ.end, occ))
    return sorted(jobs, key=lambda j: j.run_at)


@dataclass(frozen=True)
class Horizon:
    """How far ahead jobs are planned and how far back missed ones are still caught up."""

    days: int = 60
    min_sessions: int = 2  # plan at least this many sessions even beyond `days`
    teardown_lookback: dt.timedelta = dt.timedelta(hours=12)


@dataclass
class Decision:
    """What re-planning concluded at one instant."""

    schedule: list[PlannedJob] = field(default_factory=list)  # future or caught-up jobs
    catch_up: list[PlannedJob] = field(default_factory=list)  # overdue, will run at once
    missed: list[tuple[PlannedJob, str]] = field(default_factory=list)  # overdue, not run; why


def decide(
    calendar: Calendar,
    plan: SessionPlan,
    now: dt.datetime,
    has_run: Callable[[str], bool],
    horizon: Horizon = Horizon(),
) -> Decision:
    """Choose the jobs to hold in the job store at `now`.

    Overdue jobs that have not run: a drill runs at once if its session has not started
    (when several drills of a session are overdue only the latest runs; none runs when the
    bring-up is overdue too, since the bring-up checks every link anyway); a bring-up runs at
    once if its session has not ended; a teardown runs at once if its session ended less than
    `horizon.teardown_lookback` ago.
    """
    decision = Decision()
    for occ in _window(calendar, now, horizon):
        jobs = [j for j in plan_session(occ, plan, calendar.workdays) if not has_run(j.job_id)]
        overdue = [j for j in jobs if j.run_at <= now]
        decision.schedule += [j for j in jobs if j.run_at > now]
        bringup_due = any(j.kind == "bringup" and now < occ.end for j in overdue)
        drills = [j for j in overdue if j.kind == "drill"]
        for j in drills:
            if now >= occ.start:
                decision.missed.append((j, "the session had already started"))
            elif bringup_due:
                decision.missed.append((j, "the bring-up is due and checks every link"))
            elif j is not drills[-1]:
                decision.missed.append((j, f"superseded by the {drills[-1].label} drill"))
            else:
                decision.catch_up.append(j)
        for j in overdue:
            if j.kind == "bringup":
                if now < occ.end:
                    decision.catch_up.append(j)
                else:
                    decision.missed.append((j, "the session had already ended"))
            elif j.kind == "teardown":
                if now - occ.end <= horizon.teardown_lookback:
                    decision.catch_up.append(j)
                else:
                    decision.missed.append((j, "the session ended too long ago"))
    decision.schedule += decision.catch_up
    decision.schedule.sort(key=lambda j: (j.run_at, j.job_id))
    return decision


def _on_working_day(when: dt.datetime, days: WorkingDays) -> dt.datetime:
    day = days.shift(when.date(), "previous-working-day")
    if day == when.date():
        return when
    # same wall-clock time on the earlier day (its own UTC offset, should DST ever apply)
    return dt.datetime.combine(day, when.time(), tzinfo=when.tzinfo)


def _window(calendar: Calendar, now: dt.datetime, horizon: Horizon) -> Iterable[Occurrence]:
    local = now.astimezone(calendar.tz).date()
    first = local - dt.timedelta(days=1 + horizon.teardown_lookback.days)
    occs = calendar.occurrences(first, local + dt.timedelta(days=horizon.days + 1))
    upcoming = calendar.upcoming(now, count=horizon.min_sessions)
    seen = {o.key for o in occs}
    occs += [o for o in upcoming if o.key not in seen]
    return sorted(occs, key=lambda o: o.start)
