"""`mcu-control audit verify|show` — the hash-chained audit log."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mcu_control.commands.common import emit, escape, group, table

app = group("Check and read the audit log.")


@app.command()
def verify() -> None:
    """Check the hash chain and list repairs; exit 2 naming the first bad line if it was
    tampered with, 1 if only the last line is torn (the next audited action repairs it)."""
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
        "torn_tail": result.torn_tail,
        "repairs": [r.to_dict() for r in result.repairs],
    }

    def human() -> str:
        lines = [
            f"[green]✓[/] {escape(str(log.path))}: {result.records} records, chain intact"
            if result.ok
            else f"[bold red]✗[/] {escape(str(log.path))}: line {result.first_bad_line}: "
            f"{escape(result.reason)}"
        ]
        lines.extend(
            f"[yellow]repaired[/] at {r.at} (line {r.line}): {r.removed_bytes} bytes of a "
            f"torn line moved to {escape(r.quarantine)}"
            for r in result.repairs
        )
        return "\n".join(lines)

    emit(data, human)
    raise typer.Exit(0 if result.ok else 1 if result.torn_tail else 2)


@app.command()
def show(last: Annotated[int, typer.Option(help="How many records.")] = 20) -> None:
    """The most recent records (an unreadable line is shown as such, never a crash)."""
    from mcu_control.audit import AuditLog
    from mcu_control.paths import audit_path

    entries = AuditLog(audit_path()).entries()[-last:] if last > 0 else []

    from mcu_control.commands.common import OPTIONS, print_json, site_time, site_tz

    if OPTIONS.json:  # the records exactly as stored and hash-chained (UTC instants)
        print_json(entries, verbatim=True)
        return

    def human() -> Any:
        t = table(f"Audit log ({site_tz()})", "#", "At", "Actor", "Action", "Target")
        for r in entries:
            if r.get("unreadable"):
                t.add_row(
                    "?",
                    "",
                    "",
                    f"[red]unreadable line {r['line']}[/]",
                    escape(_printable(r["text"])),
                )
                continue
            at = r.get("at")
            t.add_row(
                escape(str(r.get("seq", ""))),
                escape(site_time(at, "%Y-%m-%d %H:%M:%S") if isinstance(at, str) else ""),
                escape(_printable(str(r.get("actor", "")))),
                escape(_printable(str(r.get("action", "")))),
                escape(_printable(str(r.get("target") or ""))),
            )
        return t

    emit(entries, human)


def _printable(text: str) -> str:
    from scheduler.validate import printable

    return printable(text)
