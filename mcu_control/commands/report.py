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
    from mcu_control.commands.ops import _drill_table
    from mcu_control.drillstore import DrillStore
    from mcu_control.paths import state_dir
    from mcu_control.report import render_html

    store = DrillStore(state_dir() / "drills.sqlite")
    if list_all:
        rows = store.list()

        def human() -> Any:
            t = table("Recent drills", "Id", "Label", "Started", "Verdict")
            for r in rows:
                t.add_row(r["id"], r["label"], r["started_at"], r["verdict"])
            return t

        emit(rows, human)
        return
    report = store.last() if (last or drill_id is None) else store.get(drill_id)
    if report is None:
        err_console().print(
            f"no drill {'stored yet' if drill_id is None else drill_id!r} in {store.path}"
        )
        raise typer.Exit(3)
    if html is not None:
        html.write_text(render_html(report, site_name=_site_name(report.site)), encoding="utf-8")
        err_console().print(f"wrote {html}")
    emit(report.to_dict(), lambda: _drill_table(report))


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
