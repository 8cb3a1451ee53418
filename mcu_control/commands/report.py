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
    from devices.errors import ConfigError
    from mcu_control.commands.common import fail, site_time, site_tz
    from mcu_control.commands.ops import _drill_table
    from mcu_control.drillstore import DrillStore
    from mcu_control.paths import state_dir
    from mcu_control.report import render_html

    tz = site_tz()  # times shown in site time, JSON with the site's offset
    store = DrillStore(state_dir() / "drills.sqlite")
    if list_all:
        rows = store.list()

        def human() -> Any:
            t = table(f"Recent drills ({tz})", "Id", "Label", "Started", "Verdict")
            for r in rows:
                started = site_time(r["started_at"], "%Y-%m-%d %H:%M:%S")
                t.add_row(r["id"], r["label"], started, r["verdict"])
            return t

        emit(rows, human)
        return
    if html is not None and not html.parent.is_dir():  # before reading anything
        fail(
            ConfigError(
                f"--html {html}: the folder {html.parent} does not exist",
                hint="create the folder first, or write the report elsewhere",
            )
        )
    report = store.last() if (last or drill_id is None) else store.get(drill_id)
    if report is None:
        fail(
            ConfigError(
                f"no drill {'stored yet' if drill_id is None else drill_id!r} in {store.path}",
                hint="run `mcu-control drill` first, or see `report drill --list`",
            )
        )
    if html is not None:
        try:
            html.write_text(render_html(report, tz=tz), encoding="utf-8")
        except OSError as exc:
            fail(
                ConfigError(
                    f"--html {html}: cannot write the report ({exc.strerror})",
                    hint="pick a writable path",
                )
            )
        err_console().print(f"wrote {html}")
    emit(report.to_dict(), lambda: _drill_table(report))
