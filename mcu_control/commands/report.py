"""`mcu-control report drill|session|verify|prune` — drill reports and session records.

A session record (biên bản) is one self-contained Vietnamese HTML document and its PDF,
written by the daemon after each session's teardown into `<state dir>/records/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mcu_control.commands.common import emit, err_console, group, table

app = group("Reports of past drills, and the session records (biên bản).")

DEFAULT_RETENTION = "1825d"  # 5 years; docs/operations.md says where it comes from


@app.command("drill")
def drill_report(
    drill_id: Annotated[
        str | None, typer.Argument(help="Drill id (default: the last drill).")
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="The most recent drill.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write an HTML report with a per-point chart.")
    ] = None,
    list_all: Annotated[bool, typer.Option("--list", help="List recent drills.")] = False,
) -> None:
    """Show a stored drill (exit 3 if there is none)."""
    import sqlite3

    from devices.errors import ConfigError
    from mcu_control.commands.common import fail, site_time, site_tz
    from mcu_control.commands.ops import _drill_table
    from mcu_control.drillstore import DrillStore
    from mcu_control.paths import state_dir
    from mcu_control.report import render_html

    tz = site_tz()  # times shown in site time, JSON with the site's offset
    if html is not None and not html.parent.is_dir():  # before reading anything
        fail(
            ConfigError(
                f"--html {html}: the folder {html.parent} does not exist",
                hint="create the folder first, or write the report elsewhere",
            )
        )
    path = state_dir() / "drills.sqlite"
    try:
        store = DrillStore(path)
        rows = store.list() if list_all else []
        report = (
            None
            if list_all
            else (store.last() if (last or drill_id is None) else store.get(drill_id))
        )
    except (sqlite3.Error, OSError, ValueError) as exc:
        fail(
            ConfigError(
                f"cannot read the drill store {path}: {exc}",
                hint="check the file's permissions and the disk, or move the file aside "
                "(a new one is then started)",
            )
        )
    if store.warning:
        err_console().print(f"[yellow]warning:[/] {store.warning}")
    if list_all:

        def human() -> Any:
            t = table(f"Recent drills ({tz})", "Id", "Label", "Started", "Verdict")
            for r in rows:
                started = site_time(r["started_at"], "%Y-%m-%d %H:%M:%S")
                t.add_row(r["id"], r["label"], started, r["verdict"])
            return t

        emit(rows, human)
        raise typer.Exit(1 if store.warning else 0)
    if report is None:
        fail(
            ConfigError(
                f"no drill {'stored yet' if drill_id is None else drill_id!r} in {store.path}",
                hint="run `mcu-control drill` first, or see `report drill --list`",
            )
        )
    if html is not None:
        try:
            html.write_text(
                render_html(report, site_name=_site_name(report.site), tz=tz), encoding="utf-8"
            )
        except OSError as exc:
            fail(
                ConfigError(
                    f"--html {html}: cannot write the report ({exc.strerror})",
                    hint="pick a writable path",
                )
            )
        err_console().print(f"wrote {html}")
    emit(report.to_dict(), lambda: _drill_table(report))


@app.command("session")
def session_record(
    session_id: Annotated[
        str | None,
        typer.Argument(help="Session id (e.g. bi-thu@2026-12-10T08:00:00+07:00) or record name."),
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="The most recent session.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the record's HTML here.")
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Also write the record's PDF here.")
    ] = None,
    list_all: Annotated[bool, typer.Option("--list", help="List the session records.")] = False,
) -> None:
    """Write or show a session record; built from the audit log if it was not written yet."""
    from mcu_control.paths import state_dir
    from mcu_control.session_record import list_records, records_dir

    directory = records_dir(state_dir())
    if list_all:
        rows = [r.to_dict() for r in list_records(directory)]

        def listing() -> Any:
            t = table(f"Session records in {directory}", "Session", "Title", "Closed", "PDF")
            for r in rows:
                t.add_row(r["session_id"], r["title"], r["closed_at"], "✓" if r["pdf"] else "—")
            return t

        emit(rows, listing)
        return
    if session_id is not None and last:
        err_console().print("give a session id or --last, not both")
        raise typer.Exit(3)
    facts = _session_facts(session_id, directory)
    written = _write_session(facts, directory, html, pdf)
    s = facts["session"]
    data = {"session_id": s["id"], "title": s.get("title"), "closed_at": s["closed_at"], **written}

    def human() -> Any:
        t = table(f"Session record — {s.get('title') or s['id']}", "File", "Path")
        for key, value in written.items():
            t.add_row(key, value or "—")
        return t

    emit(data, human)


@app.command("verify")
def verify_record(
    file: Annotated[Path, typer.Argument(help="A session record (.html or .pdf).")],
    audit: Annotated[
        Path | None,
        typer.Option("--audit", help="The audit log to check against (default: the state's)."),
    ] = None,
) -> None:
    """Check a record against the audit chain and the recording files: exit 0 ok, 2 mismatch."""
    from mcu_control.audit import AuditLog
    from mcu_control.paths import audit_path
    from mcu_control.record_render import read_facts, read_pdf_facts
    from mcu_control.session_record import verify

    try:
        raw = file.read_bytes()
    except OSError as exc:
        err_console().print(f"cannot read {file}: {exc.strerror}")
        raise typer.Exit(3) from None
    try:
        is_pdf = raw.startswith(b"%PDF")
        facts = read_pdf_facts(raw) if is_pdf else read_facts(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        err_console().print(f"{file} is not a session record: {exc}")
        raise typer.Exit(3) from None
    log_path = audit or audit_path()
    if not log_path.is_file():
        err_console().print(
            f"no audit log at {log_path}: give the one the record was written from with --audit"
        )
        raise typer.Exit(3)
    result = verify(facts, AuditLog(log_path), document=raw)
    data = {"file": str(file), "session_id": facts["session"]["id"], **result.to_dict()}

    def human() -> Any:
        t = table(f"{file}: {'OK' if result.ok else 'MISMATCH'}", "Check", "Result", "Detail")
        for c in result.checks:
            mark = {True: "[green]✓[/]", False: "[bold red]✗[/]", None: "–"}[c["ok"]]
            t.add_row(c["check"], mark, c["detail"])
        return t

    emit(data, human)
    raise typer.Exit(0 if result.ok else 2)


@app.command("prune")
def prune_records(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Delete records closed longer ago (e.g. 2000d).")
    ],
    retention: Annotated[
        str,
        typer.Option(
            "--retention",
            help="Records younger than this, and the recordings they cite, are never deleted.",
        ),
    ] = DEFAULT_RETENTION,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Delete old session records and their recordings, never within the retention period."""
    import datetime as dt

    from mcu_control.paths import state_dir
    from mcu_control.session_record import prune, records_dir
    from profiles.common import parse_duration

    try:
        older = dt.timedelta(seconds=parse_duration(older_than))
        keep = dt.timedelta(seconds=parse_duration(retention))
    except ValueError as exc:
        err_console().print(str(exc))
        raise typer.Exit(3) from None
    result = prune(
        records_dir(state_dir()),
        older_than=older,
        retention=keep,
        now=dt.datetime.now(dt.UTC),
        dry_run=dry_run,
    )
    data = {"dry_run": dry_run, **result.to_dict()}

    def human() -> Any:
        t = table("Prune" + (" (dry run)" if dry_run else ""), "Path", "Action", "Why")
        for path in result.deleted:
            t.add_row(path, "would delete" if dry_run else "deleted", "")
        for k in result.kept:
            t.add_row(k["path"], "kept", k["why"])
        return t

    emit(data, human)


def _session_facts(session_id: str | None, directory: Path) -> dict[str, Any]:
    """The facts of a written record, else built from the audit log (exit 3 if neither)."""
    from mcu_control.audit import AuditLog
    from mcu_control.drillstore import DrillStore
    from mcu_control.paths import audit_path, state_dir
    from mcu_control.record_render import read_facts
    from mcu_control.session_record import collect, list_records, record_name

    if session_id is None:
        records = list_records(directory)
        if records:
            return read_facts(records[0].html.read_text(encoding="utf-8"))
        closes = [r for r in AuditLog(audit_path()).records() if r["action"] == "session.close"]
        if not closes:
            err_console().print(
                f"no session record in {directory} and no closed session in the audit log"
            )
            raise typer.Exit(3)
        session_id = str(closes[-1]["target"])
    stored = directory / f"{record_name(session_id)}.html"
    if stored.is_file():
        return read_facts(stored.read_text(encoding="utf-8"))
    try:
        return collect(
            AuditLog(audit_path()), DrillStore(state_dir() / "drills.sqlite"), session_id
        )
    except LookupError as exc:
        err_console().print(f"{exc}; `mcu-control report session --list` lists the records")
        raise typer.Exit(3) from None


def _write_session(
    facts: dict[str, Any], directory: Path, html: Path | None, pdf: Path | None
) -> dict[str, str | None]:
    """Write the record into the records directory if missing, and to --html/--pdf."""
    from mcu_control.audit import AuditLog
    from mcu_control.paths import audit_path
    from mcu_control.record_render import render_html, render_pdf
    from mcu_control.session_record import (
        RecordPdfUnavailableError,
        note_written,
        record_name,
        write_record,
    )

    name = record_name(facts["session"]["id"])
    stored_html = directory / f"{name}.html"
    stored_pdf = directory / f"{name}.pdf"
    try:
        if not stored_html.is_file() or not stored_pdf.is_file():
            written, written_pdf = write_record(facts, directory)
            note_written(
                AuditLog(audit_path()), facts["session"]["id"], written, written_pdf, actor="cli"
            )
        document = render_html(facts)
        if html is not None:
            html.write_text(document, encoding="utf-8")
        if pdf is not None:
            pdf.write_bytes(render_pdf(document, facts))
    except RecordPdfUnavailableError as exc:
        err_console().print(str(exc))
        raise typer.Exit(3) from None
    except OSError as exc:
        err_console().print(f"cannot write the record: {exc}")
        raise typer.Exit(3) from None
    return {
        "html": str(html or stored_html),
        "pdf": str(pdf) if pdf else (str(stored_pdf) if stored_pdf.is_file() else None),
        "stored_html": str(stored_html),
    }


def _site_name(site_id: str) -> str | None:
    """The site's name from the profile in use, when it is the drill's site (else None)."""
    from devices.errors import ConfigError
    from mcu_control.commands.common import profile_path
    from profiles.loader import load_profile

    try:
        site = load_profile(profile_path()).profile.site
    except (ConfigError, OSError):
        return None  # the report still names the site by its id
    return site.name if site.id == site_id else None
