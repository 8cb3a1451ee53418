"""Persistent scheduler data: schedule changes (skip, move, add) and the job_runs ledger.

One SQLAlchemy database holds these two tables and APScheduler's job table: SQLite in the
state directory by default, or PostgreSQL (``postgresql+psycopg://…``) shared by a redundant
pair. `job_runs` has a primary key on (job_id, run_time): a job is claimed by inserting its row
*before* it runs, so two daemons — even two that both believe they are active — cannot run the
same job twice.

A running job's row carries a `beats` counter that its daemon bumps every few seconds. A row
still `claimed` whose counter stops moving belongs to a daemon that died mid-job (kill -9,
power cut): the active daemon takes it over (see SessionScheduler.sweep). A counter, not a
timestamp, so no clock on one PC is ever compared with another's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from scheduler import sqlitefile
from scheduler.calendar import AddedSession, Change, Move, Skip

JOBS_TABLE = "mcu_scheduler_jobs"


@dataclass(frozen=True)
class ChangeRecord:
    """A persisted schedule change with its number and provenance."""

    id: int
    change: Change
    reason: str
    actor: str
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        c = self.change
        out: dict[str, Any] = {
            "id": self.id,
            "type": {AddedSession: "add", Skip: "skip", Move: "move"}[type(c)],
            "session_id": c.session_id,
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
        }
        if isinstance(c, AddedSession):
            out |= {
                "title": c.title,
                "date": c.date.isoformat(),
                "start": c.start.isoformat(),
                "duration_s": c.duration_s,
                "roster": list(c.roster),
                "national": c.national,
            }
        elif isinstance(c, Skip):
            out |= {"date": c.date.isoformat()}
        else:
            out |= {
                "date": c.date.isoformat(),
                "new_date": c.new_date.isoformat(),
                "new_start": c.new_start.isoformat() if c.new_start else None,
            }
        return out


@dataclass(frozen=True)
class JobRun:
    job_id: str
    run_time: dt.datetime
    node: str
    status: str  # claimed, done, failed, missed, interrupted
    claimed_at: dt.datetime
    finished_at: dt.datetime | None
    detail: str
    beats: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "run_time": self.run_time.isoformat(),
            "node": self.node,
            "status": self.status,
            "claimed_at": self.claimed_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "detail": self.detail,
        }


class ScheduleDb:
    """The scheduler's tables on one engine; `schema` isolates a site (or a test run) on PostgreSQL."""

    def __init__(
        self, url: str, *, schema: str | None = None, application_name: str = "mcu-control"
    ) -> None:
        """`application_name` names PostgreSQL sessions in pg_stat_activity (ignored by SQLite)."""
        self.url = url
        self.schema = schema
        self.is_postgres = url.startswith("postgresql")
        kwargs: dict[str, Any] = {}
        if self.is_postgres:
            kwargs = {
                "pool_pre_ping": True,
                "connect_args": {
                    "connect_timeout": 5,
                    "options": "-c statement_timeout=5000",
                    "application_name": application_name[:63],
                },
            }
        elif url.startswith("sqlite"):
            kwargs = {"connect_args": {"timeout": sqlitefile.BUSY_TIMEOUT_S}}
        self.engine: Engine = sa.create_engine(url, **kwargs)
        #: what happened to a damaged SQLite file (moved aside) when `create` ran
        self.warning: str | None = None
        if self.engine.url.get_backend_name() == "sqlite":
            # WAL: readers (schedule list, panels) never wait for the daemon's writes
            sa.event.listen(self.engine, "connect", lambda conn, _rec: sqlitefile.tune(conn))
        meta = sa.MetaData(schema=schema)
        self.changes_table = sa.Table(
            "mcu_schedule_changes",
            meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("type", sa.String(8), nullable=False),
            sa.Column("session_id", sa.String(100), nullable=False),
            sa.Column("date", sa.Date, nullable=False),
            sa.Column("new_date", sa.Date),
            sa.Column("start", sa.Time),
            sa.Column("duration_s", sa.Integer),
            sa.Column("title", sa.Text),
            sa.Column("reason", sa.Text, nullable=False, default=""),
            sa.Column("actor", sa.String(100), nullable=False, default=""),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )
        # the roster of an added session that names one (`schedule add --points/--groups`); a
        # table of its own so that databases created before rosters need no migration
        self.rosters_table = sa.Table(
            "mcu_schedule_rosters",
            meta,
            sa.Column("change_id", sa.Integer, primary_key=True),
            sa.Column("roster", sa.Text, nullable=False),  # names, comma-separated
        )
        # the added sessions that join the national reception office (`schedule add
        # --national`): one row each, in a table of its own for the same reason (no row: False)
        self.national_table = sa.Table(
            "mcu_schedule_national",
            meta,
            sa.Column("change_id", sa.Integer, primary_key=True),
        )
        self.runs_table = sa.Table(
            "mcu_job_runs",
            meta,
            sa.Column("job_id", sa.String(300), primary_key=True),
            sa.Column("run_time", sa.DateTime(timezone=True), primary_key=True),
            sa.Column("node", sa.String(200), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True)),
            sa.Column("detail", sa.Text, nullable=False, default=""),
            sa.Column("beats", sa.Integer, nullable=False, default=0),
        )
        self._meta = meta

    def create(self) -> None:
        """Create the schema (PostgreSQL) or the SQLite file, and the tables if missing.

        Safe when several processes do it at once on a fresh state directory: a table another
        one created between our check and our CREATE is simply there (one retry). A damaged
        SQLite file is moved aside first (`self.warning` says so).
        """
        database = self.engine.url.database
        if self.engine.url.get_backend_name() == "sqlite" and database not in (
            None,
            "",
            ":memory:",
        ):
            self.warning = sqlitefile.prepare(Path(str(database)))
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    if self.is_postgres and self.schema:
                        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                    self._meta.create_all(conn)
                return
            except (OperationalError, ProgrammingError, IntegrityError) as exc:
                if attempt == 2 or "already exists" not in str(exc.orig):
                    raise

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ schedule changes

    def add_change(self, change: Change, *, reason: str = "", actor: str = "") -> ChangeRecord:
        row: dict[str, Any] = {
            "session_id": change.session_id,
            "date": change.date,
            "reason": reason,
            "actor": actor,
            "created_at": dt.datetime.now(dt.UTC),
        }
        if isinstance(change, AddedSession):
            row |= {
                "type": "add",
                "title": change.title,
                "start": change.start,
                "duration_s": change.duration_s,
            }
        elif isinstance(change, Skip):
            row |= {"type": "skip"}
        else:
            row |= {"type": "move", "new_date": change.new_date, "start": change.new_start}
        with self.engine.begin() as conn:
            result = conn.execute(self.changes_table.insert().values(**row))
            key = result.inserted_primary_key
            assert key is not None
            new_id = int(key[0])
            if isinstance(change, AddedSession) and change.roster != ("all",):
                conn.execute(
                    self.rosters_table.insert().values(
                        change_id=new_id, roster=",".join(change.roster)
                    )
                )
            if isinstance(change, AddedSession) and change.national:
                conn.execute(self.national_table.insert().values(change_id=new_id))
        return next(r for r in self.changes() if r.id == new_id)

    def changes(self) -> list[ChangeRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(self.changes_table.select().order_by(self.changes_table.c.id))
            records = [_record(r._mapping) for r in rows]
            rosters = {
                int(r.change_id): tuple(str(r.roster).split(","))
                for r in conn.execute(self.rosters_table.select())
            }
            national = {int(r.change_id) for r in conn.execute(self.national_table.select())}
        return [_added(r, rosters, national) for r in records]

    def remove_change(self, change_id: int) -> ChangeRecord | None:
        """Delete one change; return it, or None if there was none with that number."""
        found = next((r for r in self.changes() if r.id == change_id), None)
        if found is not None:
            with self.engine.begin() as conn:
                for extra in (self.rosters_table, self.national_table):
                    conn.execute(extra.delete().where(extra.c.change_id == change_id))
                conn.execute(
                    self.changes_table.delete().where(self.changes_table.c.id == change_id)
                )
        return found

    # ------------------------------------------------------------------ job runs

    def claim(
        self,
        job_id: str,
        run_time: dt.datetime,
        node: str,
        *,
        status: str = "claimed",
        detail: str = "",
    ) -> bool:
        """Insert the run's row; False if any daemon already claimed (job_id, run_time)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    self.runs_table.insert().values(
                        job_id=job_id,
                        run_time=run_time.astimezone(dt.UTC),
                        node=node,
                        status=status,
                        claimed_at=dt.datetime.now(dt.UTC),
                        detail=detail,
                        beats=0,
                    )
                )
        except IntegrityError:
            return False
        return True

    def finish(self, job_id: str, run_time: dt.datetime, status: str, detail: str = "") -> None:
        t = self.runs_table
        with self.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.job_id == job_id, t.c.run_time == run_time.astimezone(dt.UTC))
                .values(status=status, finished_at=dt.datetime.now(dt.UTC), **self._note(detail))
            )

    def _note(self, detail: str) -> dict[str, Any]:
        """Append `detail` to a row's detail (a take-over's note stays when the re-run ends)."""
        if not detail:
            return {}
        t = self.runs_table
        return {"detail": sa.case((t.c.detail == "", detail), else_=t.c.detail + "; " + detail)}

    def beat(self, runs: list[tuple[str, dt.datetime]]) -> None:
        """Bump the counter of each (job_id, run_time) this daemon is running."""
        if not runs:
            return
        t = self.runs_table
        with self.engine.begin() as conn:
            for job_id, run_time in runs:
                conn.execute(
                    t.update()
                    .where(
                        t.c.job_id == job_id,
                        t.c.run_time == run_time.astimezone(dt.UTC),
                        t.c.status == "claimed",
                    )
                    .values(beats=t.c.beats + 1)
                )

    def claimed_runs(self) -> list[JobRun]:
        """Rows still `claimed`: jobs running now, or left behind by a daemon that died."""
        return self.runs(status="claimed")

    def take_over(self, run: JobRun, node: str, *, status: str, detail: str) -> bool:
        """Re-own a dead daemon's claimed row if its counter is still `run.beats`.

        `status` is ``claimed`` to run the job again here, or a final status. The condition on
        `beats` makes this atomic between two daemons and against a late beat of the old owner.
        """
        t = self.runs_table
        values: dict[str, Any] = {"node": node, "status": status, "detail": detail, "beats": 0}
        if status != "claimed":
            values["finished_at"] = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            result = conn.execute(
                t.update()
                .where(
                    t.c.job_id == run.job_id,
                    t.c.run_time == run.run_time.astimezone(dt.UTC),
                    t.c.status == "claimed",
                    t.c.beats == run.beats,
                    t.c.node == run.node,
                )
                .values(**values)
            )
            return bool(result.rowcount == 1)

    def ran_job_ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return {str(r[0]) for r in conn.execute(sa.select(self.runs_table.c.job_id))}

    def runs(self, *, status: str | None = None) -> list[JobRun]:
        t = self.runs_table
        query = t.select().order_by(t.c.claimed_at)
        if status is not None:
            query = query.where(t.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query)
            return [
                JobRun(
                    job_id=r.job_id,
                    run_time=_aware(r.run_time),
                    node=r.node,
                    status=r.status,
                    claimed_at=_aware(r.claimed_at),
                    finished_at=_aware(r.finished_at) if r.finished_at else None,
                    detail=r.detail or "",
                    beats=int(r.beats or 0),
                )
                for r in rows
            ]

    async def aclaim(self, job_id: str, run_time: dt.datetime, node: str, **kw: Any) -> bool:
        """claim() off the event loop (a network round trip on PostgreSQL)."""
        return await asyncio.to_thread(self.claim, job_id, run_time, node, **kw)

    async def afinish(
        self, job_id: str, run_time: dt.datetime, status: str, detail: str = ""
    ) -> None:
        await asyncio.to_thread(self.finish, job_id, run_time, status, detail)


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite gives naive datetimes back; everything is stored in UTC
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _added(
    rec: ChangeRecord, rosters: dict[int, tuple[str, ...]], national: set[int]
) -> ChangeRecord:
    """An added session's record with its roster and national flag from their own tables."""
    c = rec.change
    if not isinstance(c, AddedSession) or (rec.id not in rosters and rec.id not in national):
        return rec
    change = dataclasses.replace(
        c, roster=rosters.get(rec.id, c.roster), national=rec.id in national
    )
    return dataclasses.replace(rec, change=change)


def _record(m: Any) -> ChangeRecord:
    change: Change
    if m["type"] == "add":
        change = AddedSession(
            m["session_id"], m["title"] or "", m["date"], m["start"], m["duration_s"] or 0
        )
    elif m["type"] == "skip":
        change = Skip(m["session_id"], m["date"])
    else:
        change = Move(m["session_id"], m["date"], m["new_date"], m["start"])
    return ChangeRecord(
        m["id"], change, m["reason"] or "", m["actor"] or "", _aware(m["created_at"])
    )
