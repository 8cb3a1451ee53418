"""APScheduler wiring: the persistent job store, re-planning, catch-up and the run ledger."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.exc import SQLAlchemyError

from profiles.schema import SessionPlan
from scheduler import runner
from scheduler.actions import AuditSink, JobInterrupted, SessionActions
from scheduler.calendar import Calendar, Occurrence
from scheduler.clock import Clock
from scheduler.db import JOBS_TABLE, JobRun, ScheduleDb
from scheduler.plan import Decision, Horizon, JobKind, PlannedJob, decide, plan_session

log = logging.getLogger("mcu_control.scheduler")

EventSink = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class ReplanReport:
    scheduled: int
    added: int
    removed: int
    catch_up: list[str]
    missed: list[str]


class RunningJobs:
    """The jobs this process is running, whichever scheduler started them.

    Owned by the daemon, not by one SessionScheduler: a job left running by a step-down must
    go on beating, or the new active daemon would take it for dead and run it twice.
    """

    def __init__(self) -> None:
        self._runs: dict[str, dt.datetime] = {}

    def add(self, job: PlannedJob) -> None:
        self._runs[job.job_id] = job.run_at

    def discard(self, job: PlannedJob) -> None:
        self._runs.pop(job.job_id, None)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._runs

    async def beat(self, db: ScheduleDb) -> None:
        """Bump the ledger counter of every running job (a failure is logged, not raised)."""
        if not self._runs:
            return
        try:
            await asyncio.to_thread(db.beat, list(self._runs.items()))
        except (SQLAlchemyError, OSError) as exc:  # the next beat retries; sweeps allow gaps
            log.warning("cannot record the running jobs' heartbeat: %s", exc)


class SessionScheduler:
    """Holds the AsyncIOScheduler of the active daemon and runs the jobs it fires.

    Lifecycle: `await start()` (paused), `replan()`, `resume()`; `await stop()` on step-down or
    shutdown. A new instance is made for every activation.
    """

    def __init__(
        self,
        *,
        db: ScheduleDb,
        calendar: Calendar,
        plan: SessionPlan,
        actions: SessionActions,
        clock: Clock,
        node: str,
        audit: AuditSink | None = None,
        on_event: EventSink | None = None,
        horizon: Horizon | None = None,
        late_after_s: float = 60.0,
        stop_grace_s: float = 2.0,
        running: RunningJobs | None = None,
        stale_after_s: float = 30.0,
    ) -> None:
        self.db = db
        self.calendar = calendar
        self.plan = plan
        self.actions = actions
        self.clock = clock
        self.node = node
        self.horizon = horizon or Horizon()
        self.late_after_s = late_after_s
        self.stop_grace_s = stop_grace_s
        self._audit = audit
        self._on_event = on_event
        self._aps: Any = None
        self._work: set[asyncio.Task[None]] = set()
        self.running = running or RunningJobs()
        self.stale_after_s = stale_after_s
        # claimed rows of other runs: (job_id, run_time) -> (beats seen, when first seen so)
        self._observed: dict[tuple[str, dt.datetime], tuple[int, dt.datetime]] = {}

    async def start(self) -> None:
        """Open the job store and start APScheduler paused (nothing fires before resume())."""
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        await asyncio.to_thread(self.db.create)
        store = SQLAlchemyJobStore(
            engine=self.db.engine, tablename=JOBS_TABLE, tableschema=self.db.schema
        )
        self._aps = AsyncIOScheduler(
            jobstores={"default": store},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone=dt.UTC,
        )
        runner.install(self)
        self._aps.start(paused=True)

    def resume(self) -> None:
        self._aps.resume()

    async def stop(self, *, detach: bool = False) -> set[asyncio.Task[None]]:
        """Stop firing; give running jobs `stop_grace_s`, then cancel them.

        With `detach` (a step-down), running jobs are left to finish and returned instead:
        they were claimed in the ledger, so the other daemon will not start them again.
        """
        if self._aps is not None:
            aps, self._aps = self._aps, None
            if aps.running:
                aps.shutdown(wait=False)
        if runner._active is self:
            runner.install(None)
        work, self._work = set(self._work), set()
        if detach or not work:
            return work
        _, pending = await asyncio.wait(work, timeout=self.stop_grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return set()

    def update(self, calendar: Calendar, plan: SessionPlan) -> None:
        """Take a new calendar (profile reload, schedule change); call replan() after."""
        self.calendar = calendar
        self.plan = plan

    def replan(self) -> ReplanReport:
        """Make the job store hold exactly the planned jobs (idempotent); record and report misses."""
        now = self.clock.now()
        ran = self.db.ran_job_ids()
        decision = decide(self.calendar, self.plan, now, ran.__contains__, self.horizon)
        self._record_missed(decision)
        return self._sync_jobs(decision)

    def jobs(self) -> list[dict[str, Any]]:
        """The job store's content: id and next run time."""
        if self._aps is None:
            return []
        return [
            {"id": j.id, "next_run_time": j.next_run_time.isoformat() if j.next_run_time else None}
            for j in self._aps.get_jobs()
        ]

    async def execute(
        self, kind: str, session_id: str, occurrence_iso: str, label: str, run_at: str
    ) -> None:
        """Called by run_job: check the job still applies, claim it, run the action."""
        key = f"{session_id}@{occurrence_iso}"
        occ = self._find(key)
        planned_at = dt.datetime.fromisoformat(run_at) if run_at else self.clock.now()
        suffix = f"drill-{label.removeprefix('T-')}" if kind == "drill" else kind
        job_id = f"{key}#{suffix}"
        if occ is None:
            log.warning("job %s: the occurrence is no longer in the calendar; not run", job_id)
            return
        if kind not in ("drill", "bringup", "teardown"):
            log.error("job %s has an unknown kind %r; not run", job_id, kind)
            return
        job = PlannedJob(cast("JobKind", kind), label, planned_at, occ)
        now = self.clock.now()
        why_not = _not_applicable(job, now)
        if why_not:
            if await self.db.aclaim(job_id, planned_at, self.node, status="missed", detail=why_not):
                self._report_missed(job, why_not)
            return
        if not await self.db.aclaim(job_id, planned_at, self.node):
            log.info("job %s already claimed by a daemon; not run again", job_id)
            return
        late_s = (now - planned_at).total_seconds()
        if late_s > self.late_after_s:
            self._emit(
                "job-late",
                job,
                level=logging.WARNING,
                message=f"{kind} {label} missed at {planned_at.isoformat()} "
                f"(daemon down or standby); running now, {late_s:.0f} s late",
                late_s=round(late_s, 1),
            )
        self._emit("job-started", job, message=f"{kind} {label} started")
        task = self._spawn(job)
        try:
            # shielded: a step-down (lost lock connection) must not cut a bring-up in half
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # only at shutdown (the job, or APScheduler's task for it, is cancelled); _call
            # records the cut in the ledger. Returning spares the log APScheduler's traceback.
            log.info("job %s cut at shutdown", job_id)

    async def sweep(self) -> list[str]:
        """Take over the jobs of a daemon that died while running them; return their ids.

        A `claimed` row not run by this process whose beat counter has not moved for
        `stale_after_s` (counted on this PC's clock from when this scheduler first saw it)
        was left by a dead daemon. The job runs again here if it still applies (a drill
        before the session, a bring-up before its end); otherwise it is closed `interrupted`.
        Either way it is reported.
        """
        rows = await asyncio.to_thread(self.db.claimed_runs)
        now = self.clock.now()
        seen = {(r.job_id, r.run_time) for r in rows}
        self._observed = {k: v for k, v in self._observed.items() if k in seen}
        taken: list[str] = []
        for row in rows:
            if row.job_id in self.running:
                continue
            key = (row.job_id, row.run_time)
            beats, since = self._observed.get(key, (-1, now))
            if beats != row.beats:
                self._observed[key] = (row.beats, now)
                continue
            if (now - since).total_seconds() < self.stale_after_s:
                continue
            del self._observed[key]
            if await self._take_over(row, now):
                taken.append(row.job_id)
        return taken

    # ------------------------------------------------------------------ helpers

    def _spawn(self, job: PlannedJob) -> asyncio.Task[None]:
        task = asyncio.create_task(self._call(job), name=f"job:{job.job_id}")
        self._work.add(task)
        self.running.add(job)

        def done(t: asyncio.Task[None]) -> None:
            self._work.discard(t)  # _work is replaced on stop; discard is a no-op then
            self.running.discard(job)

        task.add_done_callback(done)
        return task

    async def _take_over(self, row: JobRun, now: dt.datetime) -> bool:
        job = self._job_of(row)
        lost = f"{row.node} stopped while running it (no heartbeat for {self.stale_after_s:.0f} s)"
        why_not = _not_applicable(job, now) if job else "the occurrence is no longer planned"
        if why_not:
            status, detail = "interrupted", f"{lost}; not run again: {why_not}"
        else:
            status, detail = "claimed", f"run again by {self.node}: {lost}"
        if not await asyncio.to_thread(
            self.db.take_over, row, self.node, status=status, detail=detail
        ):
            return False  # its owner beat again, or another daemon took it first
        if job is None:
            log.warning("job %s: %s", row.job_id, detail)
            if self._audit is not None:
                self._audit(
                    "scheduler.job-interrupted",
                    actor="scheduler",
                    target=row.job_id,
                    message=detail,
                )
            return True
        self._emit(
            "job-interrupted",
            job,
            level=logging.ERROR,
            message=f"{job.kind} {job.label}: {detail}",
            previous_node=row.node,
            rerun=not why_not,
        )
        if not why_not:
            self._emit("job-started", job, message=f"{job.kind} {job.label} started again")
            self._spawn(job)
        return True

    def _job_of(self, row: JobRun) -> PlannedJob | None:
        key, _, suffix = row.job_id.partition("#")
        try:
            occ = self._find(key) if "@" in key else None
        except ValueError:  # not a job id this version writes
            occ = None
        if occ is None:
            return None
        for job in plan_session(occ, self.plan, self.calendar.workdays):
            if job.job_id == row.job_id:
                return PlannedJob(job.kind, job.label, row.run_time, occ)
        if suffix.startswith("drill-"):  # a drill the plan no longer has: still name it right
            return PlannedJob("drill", f"T-{suffix.removeprefix('drill-')}", row.run_time, occ)
        return None

    async def _call(self, job: PlannedJob) -> None:
        occ = job.occurrence
        try:
            if job.kind == "drill":
                await self.actions.drill(occ, label=job.label)
            elif job.kind == "bringup":
                await self.actions.bringup(occ)
            else:
                await self.actions.teardown(occ)
        except asyncio.CancelledError:
            await asyncio.to_thread(
                self.db.finish, job.job_id, job.run_at, "failed", "cancelled at shutdown"
            )
            raise
        except JobInterrupted as exc:
            await self.db.afinish(job.job_id, job.run_at, "interrupted", str(exc))
            self._emit(
                "job-interrupted",
                job,
                level=logging.WARNING,
                message=f"{job.kind} {job.label}: {exc}",
                rerun=False,
            )
            return
        except Exception as exc:
            log.exception("job %s failed", job.job_id)
            await self.db.afinish(job.job_id, job.run_at, "failed", f"{type(exc).__name__}: {exc}")
            self._emit("job-failed", job, level=logging.ERROR, message=str(exc))
            return
        await self.db.afinish(job.job_id, job.run_at, "done")
        self._emit("job-finished", job, message=f"{job.kind} {job.label} finished")

    def _find(self, key: str) -> Occurrence | None:
        day = dt.date.fromisoformat(key.split("@", 1)[1][:10])
        one = dt.timedelta(days=1)
        return next(
            (o for o in self.calendar.occurrences(day - one, day + one) if o.key == key), None
        )

    def _record_missed(self, decision: Decision) -> None:
        for job, why in decision.missed:
            if self.db.claim(job.job_id, job.run_at, self.node, status="missed", detail=why):
                self._report_missed(job, why)

    def _report_missed(self, job: PlannedJob, why: str) -> None:
        self._emit(
            "job-missed",
            job,
            level=logging.WARNING,
            message=f"{job.kind} {job.label} due {job.run_at.isoformat()} was not run: {why}",
            reason=why,
        )

    def _sync_jobs(self, decision: Decision) -> ReplanReport:
        aps = self._aps
        wanted = {j.job_id: j for j in decision.schedule}
        existing = {job.id: job for job in aps.get_jobs()}
        removed = 0
        for job_id in existing.keys() - wanted.keys():
            aps.remove_job(job_id)
            removed += 1
        added = 0
        for job_id, job in wanted.items():
            old = existing.get(job_id)
            if old is not None and old.next_run_time == job.run_at:
                continue
            occ = job.occurrence
            aps.add_job(
                runner.JOB_FUNC,
                trigger="date",
                run_date=job.run_at,
                id=job_id,
                name=f"{job.kind} {job.label} {occ.title}",
                kwargs={
                    "kind": job.kind,
                    "session_id": occ.session_id,
                    "occurrence_iso": occ.start.isoformat(),
                    "label": job.label,
                    "run_at": job.run_at.isoformat(),
                },
                replace_existing=True,
                misfire_grace_time=None,
                coalesce=True,
            )
            added += 1
        catch = [j.job_id for j in decision.catch_up]
        for j in decision.catch_up:
            log.warning("job %s was due at %s and runs now", j.job_id, j.run_at.isoformat())
        return ReplanReport(
            len(wanted), added, removed, catch, [j.job_id for j, _ in decision.missed]
        )

    def _emit(
        self, event: str, job: PlannedJob, *, level: int = logging.INFO, message: str, **extra: Any
    ) -> None:
        log.log(level, "%s: %s", job.job_id, message)
        payload = {
            "job_id": job.job_id,
            "kind": job.kind,
            "label": job.label,
            "session_id": job.occurrence.session_id,
            "starts_at": job.occurrence.start.isoformat(),
            "due_at": job.run_at.isoformat(),
            "node": self.node,
            "message": message,
            **extra,
        }
        if self._audit is not None and event != "job-started":
            self._audit(f"scheduler.{event}", actor="scheduler", target=job.job_id, **payload)
        if self._on_event is not None:
            try:
                self._on_event(event, payload)
            except Exception:
                log.exception("event callback failed for %s", event)


def _not_applicable(job: PlannedJob, now: dt.datetime) -> str:
    occ = job.occurrence
    if job.kind == "drill" and now >= occ.start:
        return "the session had already started"
    if job.kind == "bringup" and now >= occ.end:
        return "the session had already ended"
    return ""
