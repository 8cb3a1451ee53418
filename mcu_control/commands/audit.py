"""`mcu-control audit verify|show` — the hash-chained audit log."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mcu_control.commands.common import emit, group, table

app = group("Check and read the audit log.")


@app.command()
def verify() -> None:
    """Check the hash chain; exit 2 and name the first bad line if it was tampered with."""
    from mcu_control.audit import AuditLog
    from mcu_control.paths import audit_path

    log = AuditLog(audit_path())
    result = log.verify()
    data = {
        "ok": result.ok,
        "file": str(log.path),
        "records": result.records,
        "first_bad_line": result.first_bad_line,
        "reason": result.reason,
    }
    emit(
        data,
        lambda: (
            f"[green]✓[/] {log.path}: {result.records} records, chain intact"
            if result.ok
            else f"[bold red]✗[/] {log.path}: line {result.first_bad_line}: {result.reason}"
        ),
    )
    raise typer.Exit(0 if result.ok else 2)


@app.command()
def show(last: Annotated[int, typer.Option(help="How many records.")] = 20) -> None:
    """The most recent records."""
    from mcu_control.audit import AuditLog
    from mcu_control.paths import audit_path

    records = AuditLog(audit_path()).records()[-last:]

    from mcu_control.commands.common import OPTIONS, print_json, site_time, site_tz

    if OPTIONS.json:  # the records exactly as stored and hash-chained (UTC instants)
        print_json(records, verbatim=True)
        return

    def human() -> Any:
        t = table(f"Audit log ({site_tz()})", "#", "At", "Actor", "Action", "Target")
        for r in records:
            at = site_time(r["at"], "%Y-%m-%d %H:%M:%S")
            t.add_row(str(r["seq"]), at, r["actor"], r["action"], r.get("target") or "")
        return t

    emit(records, human)
