"""`mcu-control report drill` — past drill results as a table, JSON or an HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mcu_control.commands.common import emit, err_console, group, table

app = group("Reports of past drills.")


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

    from mcu_control.commands.ops import _drill_table
    from mcu_control.drillstore import DrillStore
    from mcu_control.paths import state_dir
    from mcu_control.report import render_html

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
        err_console().print(
            f"[bold red]error:[/] cannot read the drill store {path}: {exc} — check the file's "
            "permissions and the disk, or move the file aside (a new one is then started)"
        )
        raise typer.Exit(3) from None
    if store.warning:
        err_console().print(f"[yellow]warning:[/] {store.warning}")
    if list_all:

        def human() -> Any:
            t = table("Recent drills", "Id", "Label", "Started", "Verdict")
            for r in rows:
                t.add_row(r["id"], r["label"], r["started_at"], r["verdict"])
            return t

        emit(rows, human)
        raise typer.Exit(1 if store.warning else 0)
    if report is None:
        err_console().print(
            f"no drill {'stored yet' if drill_id is None else drill_id!r} in {store.path}"
        )
        raise typer.Exit(3)
    if html is not None:
        html.write_text(render_html(report), encoding="utf-8")
        err_console().print(f"wrote {html}")
    emit(report.to_dict(), lambda: _drill_table(report))
