"""`mcu-control schedule list|next|add|skip|move|remove|changes|runs` — the session calendar."""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from mcu_control.commands.common import (
    OPTIONS,
    audit_done,
    emit,
    err_console,
    escape,
    group,
    load,
    require_audit,
    table,
)
from mcu_control.exitcodes import Exit

if TYPE_CHECKING:
    from profiles.loader import LoadedProfile
    from scheduler.calendar import Calendar, Occurrence
    from scheduler.db import ScheduleDb

app = group("Show and change the session calendar (drills, bring-up, teardown).")

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Scheduler database URL [env MCU_CONTROL_DATABASE_URL; default SQLite in the state dir].",
        show_default=False,
    ),
]
SchemaOpt = Annotated[
    str | None,
    typer.Option(
        "--database-schema",
        help="PostgreSQL schema [env MCU_CONTROL_DATABASE_SCHEMA].",
        show_default=False,
    ),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Accept a date in the past (needs --reason)."),
]


@app.command("list")
def list_(
    from_: Annotated[
        str | None, typer.Option("--from", help="First date (YYYY-MM-DD); default today.")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last date; default 12 months after --from.")
    ] = None,
    database: DbOpt = None,
    schema: SchemaOpt = None,
) -> None:
    """List sessions with their drill, bring-up and teardown times."""
    loaded = load()
    db = _db(database, schema)
    cal = _calendar(loaded, db)
    first = _date(from_, "--from") if from_ else _today(cal)
    last = _date(to, "--to") if to else _add_months(first, 12)
    if last < first:
        _usage("--to is before --from")
    try:
        rows = [_session_dict(loaded, cal, o) for o in cal.occurrences(first, last)]
        rows += _skipped_rows(loaded, db, first, last)
    except (OverflowError, ValueError):
        _usage(f"cannot list {first} → {last}: give dates well before the year {dt.MAXYEAR}")
    rows.sort(key=lambda r: (r["start"], r["session_id"]))
    site = loaded.profile.site

    def human() -> Any:
        t = table(
            f"{site.name} — sessions {first} → {last} ({site.timezone})",
            "Date",
            "Start–end",
            "Session",
            "Drills",
            "Bring-up",
            "Teardown",
            "Note",
        )
        for r in rows:
            skipped = r["status"] == "skipped"
            t.add_row(
                r["date"] if not skipped else f"[dim]{r['date']}[/]",
                f"{r['start'][11:16]}–{r['end'][11:16]}",
                f"{_safe(r['title'])}\n[dim]{_safe(r['session_id'])}[/]"
                + ("\n[cyan]national[/]" if r["national"] else ""),
                "\n".join(f"{d['label']}: {_short(d['at'])[5:]}" for d in r["drills"]),
                _short(r["bringup"]) if r["bringup"] else "—",
                _short(r["teardown"]) if r["teardown"] else "—",
                f"[yellow]{_safe(r['note'])}[/]" if skipped else _safe(r["note"]),
            )
        return t

    emit(
        {
            "site": site.id,
            "timezone": site.timezone,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "sessions": rows,
        },
        human,
    )


@app.command("next")
def next_(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many sessions.")] = 1,
    database: DbOpt = None,
    schema: SchemaOpt = None,
) -> None:
    """Show the next session(s) that have not ended."""
    loaded = load()
    cal = _calendar(loaded, _db(database, schema))
    now = dt.datetime.now(dt.UTC)
    rows = [_session_dict(loaded, cal, o) for o in cal.upcoming(now, count=count)]

    def human() -> Any:
        if not rows:
            return "no session in the next two years"
        t = table("Next sessions", "Start", "Session", "Drills", "Bring-up", "End")
        for r in rows:
            t.add_row(
                _short(r["start"]),
                _safe(r["title"]),
                "\n".join(f"{d['label']}: {_short(d['at'])[5:]}" for d in r["drills"]),
                _short(r["bringup"]),
                _short(r["end"]),
            )
        return t

    emit({"now": now.isoformat(), "sessions": rows}, human)


@app.command()
def add(
    session_id: Annotated[str, typer.Argument(help="New session id (lowercase, dashes).")],
    date: Annotated[str, typer.Argument(help="Date YYYY-MM-DD.")],
    start: Annotated[str, typer.Argument(help="Start time HH:MM (site time).")],
    title: Annotated[str, typer.Option("--title", help="Title shown on panels.")],
    duration: Annotated[str, typer.Option("--duration", help="e.g. 3h, 2h30m.")] = "3h",
    points: Annotated[
        str | None,
        typer.Option(
            "--points",
            help="Roster: these point ids, comma-separated (the central point always joins).",
            show_default=False,
        ),
    ] = None,
    groups: Annotated[
        str | None,
        typer.Option(
            "--groups",
            help="Roster: the points of these groups, comma-separated. Neither option: all.",
            show_default=False,
        ),
    ] = None,
    national: Annotated[
        bool,
        typer.Option(
            "--national",
            help="The session joins the national reception office (the profile's `upstream`).",
        ),
    ] = False,
    reason: ReasonOpt = "",
    force: ForceOpt = False,
    database: DbOpt = None,
    schema: SchemaOpt = None,
) -> None:
    """Add a one-off session (persisted, audited); refused in the past unless --force."""
    import re

    from profiles.common import parse_duration
    from scheduler import validate
    from scheduler.calendar import AddedSession

    loaded = load()
    if national and loaded.profile.upstream is None:
        from devices.errors import ConfigError
        from mcu_control.commands.common import fail_config

        fail_config(
            ConfigError(
                "--national: the profile has no `upstream` link to the national reception office",
                hint="add an `upstream:` section (its address, protocol, who dials) to the "
                'profile — docs/profiles.md "The national link", docs/national.md',
            )
        )
    require_audit()
    db = _db(database, schema)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", session_id):
        _usage("the session id takes lowercase letters, digits and dashes")
    taken = {r.id for r in loaded.profile.sessions.rules}
    taken |= {s.id for s in loaded.profile.sessions.one_off}
    taken |= {r.change.session_id for r in db.changes()}
    if session_id in taken:
        _usage(f"session id {session_id!r} is already used")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        _usage(str(exc))
    from mcu_control.commands.common import device_errors
    from mcu_control.roster import check_names

    with device_errors():  # an unknown point or group: exit 3, before anything is written
        roster = check_names(loaded.profile, _csv(points), _csv(groups))
    title = validate.clean_text(title)
    if not title:
        _usage("--title is empty (control characters are removed)")
    reason = validate.clean_text(reason)
    day, at = _date(date, "DATE"), _time(start)
    cal = _calendar(loaded, db)
    begin = _at(cal, day, at)
    limits = validate.Limits.of(loaded.profile.sessions.limits)
    try:
        validate.check_duration(seconds, limits)
        validate.check_start(begin, _now(cal), limits, force=force, reason=reason)
    except validate.ScheduleInputError as exc:
        _usage(str(exc))
    clash = _overlaps(cal, begin, begin + dt.timedelta(seconds=seconds), session_id)
    change = AddedSession(session_id, title, day, at, seconds, roster=roster, national=national)
    _record(loaded, db, change, reason, forced=force and begin < _now(cal), overlaps=clash)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@app.command()
def skip(
    session_id: Annotated[str, typer.Argument(help="Rule id from the profile.")],
    date: Annotated[str, typer.Argument(help="The occurrence's date (nominal or shifted).")],
    reason: ReasonOpt = "",
    database: DbOpt = None,
    schema: SchemaOpt = None,
) -> None:
    """Cancel one occurrence of a recurring session (persisted, audited)."""
    from scheduler import validate
    from scheduler.calendar import Skip

    loaded = load()
    require_audit()
    db = _db(database, schema)
    nominal, _ = _locate(_calendar(loaded, db), session_id, _date(date, "DATE"))
    _record(loaded, db, Skip(session_id, nominal), validate.clean_text(reason))


@app.command()
def move(
    session_id: Annotated[str, typer.Argument(help="Rule id from the profile.")],
    date: Annotated[str, typer.Argument(help="The occurrence's date (nominal or shifted).")],
    new_date: Annotated[str, typer.Argument(help="New date YYYY-MM-DD.")],
    start: Annotated[
        str | None, typer.Option("--start", help="New start HH:MM; default the rule's.")
    ] = None,
    reason: ReasonOpt = "",
    force: ForceOpt = False,
    database: DbOpt = None,
    schema: SchemaOpt = None,
) -> None:
    """Move one occurrence of a recurring session to another date/time (persisted, audited)."""
    from scheduler import validate
    from scheduler.calendar import Move

    loaded = load()
    require_audit()
    db = _db(database, schema)
    reason = validate.clean_text(reason)
    cal = _calendar(loaded, db)
    nominal, occ = _locate(cal, session_id, _date(date, "DATE"))
    change = Move(session_id, nominal, _date(new_date, "NEW_DATE"), _time(start) if start else None)
    begin = _at(cal, change.new_date, change.new_start or occ.start.timetz())
    limits = validate.Limits.of(loaded.profile.sessions.limits)
    try:
        validate.check_start(
            begin, _now(cal), limits, force=force, reason=reason, what="the moved session"
        )
    except validate.ScheduleInputError as exc:
        _usage(str(exc))
    clash = _overlaps(cal, begin, begin + (occ.end - occ.start), session_id)
    _record(loaded, db, change, reason, forced=force and begin < _now(cal), overlaps=clash)


@app.command()
def remove(
    ref: Annotated[str, typer.Argument(help="Change number (see `changes`) or added session id.")],
    reason: ReasonOpt = "",
    database: DbOpt = None,
    schema: SchemaOpt = None,
) -> None:
    """Remove an added one-off session or a skip/move exception."""
    from scheduler import validate
    from scheduler.calendar import AddedSession

    load()
    require_audit()
    reason = validate.clean_text(reason)
    db = _db(database, schema)
    records = db.changes()
    if ref.isdigit():
        matches = [r for r in records if r.id == int(ref)]
    else:
        matches = [
            r for r in records if isinstance(r.change, AddedSession) and r.change.session_id == ref
        ]
    if not matches:
        _usage(f"no schedule change {ref!r}; `mcu-control schedule changes` lists them")
    removed = db.remove_change(matches[0].id)
    assert removed is not None
    data = removed.to_dict()
    audited = audit_done("schedule.remove", target=data["session_id"], change=data, reason=reason)
    emit(
        {"ok": True, "removed": data, "audited": audited},
        lambda: f"[green]✓[/] removed change {data['id']} ({data['type']} {data['session_id']})",
    )
    if not audited:
        raise typer.Exit(Exit.WARNINGS)


@app.command()
def changes(database: DbOpt = None, schema: SchemaOpt = None) -> None:
    """List the persisted schedule changes (added sessions, skips, moves)."""
    load()
    rows = [r.to_dict() for r in _db(database, schema).changes()]

    def human() -> Any:
        t = table("Schedule changes", "#", "Type", "Session", "Date", "New date/start", "Reason")
        for r in rows:
            extra = (
                f"{r.get('new_date')} {r.get('new_start') or ''}"
                if r["type"] == "move"
                else (f"{r['start']} {r['title']}" if r["type"] == "add" else "")
            )
            t.add_row(
                str(r["id"]),
                r["type"],
                r["session_id"],
                r["date"],
                _safe(extra),
                _safe(r["reason"]),
            )
        return t

    emit({"changes": rows}, human)


# ---------------------------------------------------------------------- helpers


def database_url(explicit: str | None) -> str:
    """--database, else $MCU_CONTROL_DATABASE_URL, else SQLite in the state directory."""
    from mcu_control.paths import state_dir

    url = explicit or os.environ.get("MCU_CONTROL_DATABASE_URL")
    if url and not url.startswith(SUPPORTED_DATABASES):
        from devices.errors import ConfigError
        from devices.secrets import redact

        scheme = url.split(":", 1)[0] if ":" in url else redact(url)
        raise ConfigError(
            f"unsupported database URL scheme {scheme!r} (--database or MCU_CONTROL_DATABASE_URL)",
            hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        )
    return url or f"sqlite:///{state_dir() / 'scheduler.sqlite'}"


#: the job stores the scheduler supports (docs/scheduling.md)
SUPPORTED_DATABASES = ("sqlite:///", "postgresql+psycopg://")


def database_schema(explicit: str | None) -> str | None:
    return explicit or os.environ.get("MCU_CONTROL_DATABASE_SCHEMA") or None


def open_db(database: str | None = None, schema: str | None = None) -> ScheduleDb:
    """The scheduler database (URL and schema from the options or the environment)."""
    return _db(database, schema)


def _db(database: str | None, schema: str | None) -> ScheduleDb:
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from mcu_control.commands.common import device_errors
    from scheduler.db import ScheduleDb

    with device_errors():  # an unusable state directory: exit 3 with what to fix
        url = database_url(database)
    db = ScheduleDb(url, schema=database_schema(schema))
    try:
        db.create()
    except (SQLAlchemyError, OSError, sqlite3.Error) as exc:
        from devices.secrets import redact

        err_console().print(
            f"[bold red]error:[/] cannot open the scheduler database: {escape(redact(str(exc)))}"
            " — check that it is reachable and writable (--database, MCU_CONTROL_DATABASE_URL)"
        )
        raise typer.Exit(Exit.USAGE) from None
    return db


def _calendar(loaded: LoadedProfile, db: ScheduleDb) -> Calendar:
    from scheduler.calendar import Calendar

    p = loaded.profile
    return Calendar(p.sessions, p.site.timezone, [r.change for r in db.changes()])


def _session_dict(loaded: LoadedProfile, cal: Calendar, occ: Occurrence) -> dict[str, Any]:
    from scheduler.plan import plan_session

    jobs = plan_session(occ, loaded.profile.sessions.plan, cal.workdays)
    note = ""
    if occ.moved:
        note = f"moved from {occ.shifted_from}"
    elif occ.shifted_from is not None:
        why = cal.workdays.holiday_name(occ.shifted_from) or "weekend"
        note = f"shifted from {occ.shifted_from} ({why})"
    elif occ.kind != "rule":
        note = occ.kind
    from mcu_control.capacity import occurrence_capacity

    capacity = occurrence_capacity(loaded, occ.roster, national=occ.national)
    if capacity["shortfall"]:
        note = (note + "; " if note else "") + (
            f"roster of {capacity['points']} needs {capacity['needed_ports']} MCU ports, "
            f"{capacity['available_ports']} available: {capacity['shortfall']} left out"
        )
    return {
        **occ.to_dict(),
        "capacity": capacity,
        "status": "scheduled",
        "note": note,
        "drills": [
            {"label": j.label, "at": j.run_at.isoformat(), "job_id": j.job_id}
            for j in jobs
            if j.kind == "drill"
        ],
        "bringup": next(j.run_at.isoformat() for j in jobs if j.kind == "bringup"),
        "teardown": next(j.run_at.isoformat() for j in jobs if j.kind == "teardown"),
        "jobs": [j.to_dict() for j in jobs],
    }


def _locate(cal: Calendar, session_id: str, day: dt.date) -> tuple[dt.date, Occurrence]:
    try:
        return cal.find_rule_occurrence(session_id, day)
    except KeyError as exc:
        _usage(str(exc.args[0]))


def _record(
    loaded: LoadedProfile,
    db: ScheduleDb,
    change: Any,
    reason: str,
    *,
    forced: bool = False,
    overlaps: list[Occurrence] | None = None,
) -> None:
    rec = db.add_change(change, reason=reason, actor=os.environ.get("USER", "cli"))
    data = rec.to_dict()
    clash = [{"session_id": o.session_id, "start": o.start.isoformat()} for o in overlaps or []]
    extra: dict[str, Any] = {"forced": True} if forced else {}
    if clash:
        extra["overlaps"] = clash
    audited = audit_done(
        f"schedule.{data['type']}",
        target=change.session_id,
        change=data,
        site=loaded.profile.site.id,
        reason=reason,
        **extra,
    )
    warnings = [] if audited else [f"change {data['id']} was saved but is not in the audit log"]
    warnings += [
        f"overlaps {o.session_id} ({o.start:%Y-%m-%d %H:%M}–{o.end:%H:%M}): check that both "
        "are meant to run at once"
        for o in overlaps or []
    ]
    if not OPTIONS.json:
        for w in warnings:
            err_console().print(f"[yellow]warning:[/] {escape(_safe(w))}")
    emit(
        {"ok": True, "change": data, "warnings": warnings},
        lambda: (
            f"[green]✓[/] change {data['id']}: {data['type']} {data['session_id']} {data['date']}"
        ),
    )
    if warnings:
        raise typer.Exit(Exit.WARNINGS)


def _skipped_rows(
    loaded: LoadedProfile, db: ScheduleDb, first: dt.date, last: dt.date
) -> list[dict[str, Any]]:
    """Skipped occurrences in [first, last], as they would have been, with the skip's reason."""
    from scheduler.calendar import Calendar, Skip

    p = loaded.profile
    records = db.changes()
    rules = {r.id: r for r in p.sessions.rules}
    out: list[dict[str, Any]] = []
    for rec in records:
        c = rec.change
        if not isinstance(c, Skip) or c.session_id not in rules:
            continue
        others = [r.change for r in records if r.id != rec.id]
        occ = Calendar(p.sessions, p.site.timezone, others).rule_occurrence(
            rules[c.session_id], c.date
        )
        if occ is None or not first <= occ.start.date() <= last:
            continue
        out.append(
            {
                **occ.to_dict(),
                "status": "skipped",
                "note": f"skipped ({rec.reason})" if rec.reason else "skipped",
                "skip_reason": rec.reason,
                "change_id": rec.id,
                "drills": [],
                "bringup": None,
                "teardown": None,
                "jobs": [],
            }
        )
    return out


def _at(cal: Calendar, day: dt.date, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at.replace(tzinfo=None), tzinfo=cal.tz)


def _now(cal: Calendar) -> dt.datetime:
    return dt.datetime.now(cal.tz)


def _overlaps(
    cal: Calendar, begin: dt.datetime, end: dt.datetime, session_id: str
) -> list[Occurrence]:
    from scheduler import validate

    near = cal.occurrences(begin.date() - dt.timedelta(days=1), end.date() + dt.timedelta(days=1))
    return validate.overlaps(begin, end, near, ignore=session_id)


def _safe(text: str) -> str:
    """Free text for a rich table: control characters shown as escapes, markup escaped."""
    from scheduler.validate import printable

    return escape(printable(text))


def _today(cal: Calendar) -> dt.date:
    return dt.datetime.now(cal.tz).date()


def _add_months(day: dt.date, months: int) -> dt.date:
    import calendar

    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    if year > dt.MAXYEAR:
        return dt.date.max
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


#: the Vietnamese lunar holiday tables (`holidays`) cover 1901–2100: outside, Tết is unknown
CALENDAR_FIRST, CALENDAR_LAST = dt.date(1901, 1, 1), dt.date(2100, 12, 31)


def _date(text: str, what: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        _usage(f"{what}: {text!r} is not a date; write YYYY-MM-DD")
    if not CALENDAR_FIRST <= day <= CALENDAR_LAST:
        _usage(
            f"{what}: {day} is outside the calendar ({CALENDAR_FIRST} … {CALENDAR_LAST}); "
            "pick a date in that range"
        )
    return day


def _time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        _usage(f"{text!r} is not a time; write HH:MM")


RUN_STATUSES = ("claimed", "done", "failed", "missed", "interrupted")
_STATUS_STYLE = {
    "done": "green",
    "claimed": "cyan",
    "failed": "bold red",
    "missed": "yellow",
    "interrupted": "bold red",
}


@app.command("runs")
def runs(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many runs, newest first.")
    ] = 20,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only runs with this status: " + ", ".join(RUN_STATUSES) + ".",
            show_default=False,
        ),
    ] = None,
    database: DbOpt = None,
    schema: SchemaOpt = None,
) -> None:
    """The job ledger: which drills, bring-ups and teardowns ran, where, and how they ended."""
    if status is not None and status not in RUN_STATUSES:
        _usage(f"--status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
    loaded = load()
    rows = [r.to_dict() for r in reversed(_db(database, schema).runs(status=status))][:limit]
    tz = loaded.profile.site.timezone

    def local(iso: str | None) -> str:
        if not iso:
            return ""
        from zoneinfo import ZoneInfo

        return _short(dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)).isoformat())

    def human() -> Any:
        if not rows:
            return "no job has run yet" + (f" with status {status}" if status else "")
        t = table(f"Job runs ({tz}), newest first", "Due", "Job", "Node", "Status", "Detail")
        for r in rows:
            key, _, kind = r["job_id"].partition("#")
            style = _STATUS_STYLE.get(r["status"], "")
            t.add_row(
                local(r["run_time"]),
                f"{escape(kind)}\n[dim]{escape(key)}[/]",
                escape(r["node"]),
                f"[{style}]{r['status']}[/]" if style else r["status"],
                escape(r["detail"]),
            )
        return t

    emit({"timezone": tz, "runs": rows}, human)


def _short(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _usage(message: str) -> NoReturn:
    from devices.errors import ConfigError
    from mcu_control.commands.common import fail

    fail(ConfigError(message))
