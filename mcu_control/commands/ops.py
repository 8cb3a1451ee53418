"""Session operations: `drill`, `bringup`, `teardown`, `status` (root-level commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcu_control.commands.common import (
    OPTIONS,
    console,
    emit,
    err_console,
    escape,
    load,
    require_audit,
    run,
    table,
)

if TYPE_CHECKING:
    from mcu_control.results import BringupReport, DrillReport
    from mcu_control.site import Site

PointOpt = Annotated[
    list[str] | None,
    typer.Option("--point", help="Only this point id (repeatable).", show_default=False),
]
VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def drill(
    point: PointOpt = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Skip preset moves; shorter test calls.")
    ] = False,
    label: Annotated[
        str, typer.Option(help="Label kept with the result (e.g. T-1d, T-2h).")
    ] = "manual",
) -> None:
    """Pre-session drill of every point (exit 0 pass, 1 warnings, 2 a check failed)."""
    from mcu_control.drill import Drill
    from mcu_control.drillstore import save_or_warn

    loaded = load()
    require_audit()

    async def go() -> DrillReport:
        site = _site(loaded)
        try:
            d = Drill(site, points=_points(site, point), quick=quick, label=label)
            with _Progress(d.planned_checks()) as advance:
                d.progress = advance
                return await d.run()
        finally:
            await site.close()

    report = run(go)
    save_or_warn(report)  # a result that cannot be stored still gives its verdict and exit code
    emit(report.to_dict(), lambda: _drill_table(report))
    raise typer.Exit(report.exit_code)


def bringup(point: PointOpt = None) -> None:
    """Connect every point, move cameras, unmute microphones, start the recording (exit 0/1/2)."""
    from mcu_control.bringup import bringup as do_bringup

    loaded = load()
    require_audit()

    async def go() -> BringupReport:
        site = _site(loaded)
        try:
            return await do_bringup(site, points=_points(site, point))
        finally:
            await site.close()

    report = run(go)
    emit(report.to_dict(), lambda: _bringup_table(report))
    raise typer.Exit(report.exit_code)


def teardown(point: PointOpt = None) -> None:
    """Stop the recording, hang up and remove participants, mute the session microphones."""
    from mcu_control.bringup import teardown as do_teardown

    loaded = load()
    require_audit()

    async def go() -> dict[str, Any]:
        site = _site(loaded)
        try:
            return await do_teardown(site, points=_points(site, point))
        finally:
            await site.close()

    result = run(go)

    def human() -> Any:
        t = table(f"Teardown of {result['conference']}", "Item", "Result")
        for name, outcome in result["participants"].items():
            t.add_row(f"participant {name}", outcome)
        for name, outcome in result["microphones"].items():
            t.add_row(f"microphones {name}", outcome)
        return t

    emit(result, human)
    raise typer.Exit(0 if result["ok"] else 2)


def status(
    timeout: Annotated[float, typer.Option(help="Seconds each device may take to answer.")] = 5.0,
) -> None:
    """Every point's state now: call, devices, recording (asks each device once)."""
    from mcu_control.status import poll

    loaded = load()

    async def go() -> dict[str, Any]:
        site = _site(loaded)
        try:
            return await poll(site, timeout_s=timeout)
        finally:
            await site.close()

    snap = run(go)

    def human() -> Any:
        t = table(
            f"{loaded.profile.site.name} — status",
            "Point",
            "Phase",
            "Call",
            "Loss %",
            "Devices down",
            "Reason",
        )
        for p in snap["points"]:
            down = [
                d["id"].split(".", 1)[1]
                for d in snap["devices"]
                if d["point"] == p["id"] and d["health"] == "down"
            ]
            loss = "" if p["packet_loss_pct"] is None else f"{p['packet_loss_pct']:.1f}"
            name = p["name"] + (" ⏺ REC" if p.get("recording") else "")
            t.add_row(
                name,
                p["phase"],
                p["call_state"] or "",
                loss,
                ", ".join(down),
                escape(p["reason"] or ""),
            )
        return t

    emit(snap, human)
    bad = any(d["health"] == "down" for d in snap["devices"])
    raise typer.Exit(2 if bad else 0)


# ---------------------------------------------------------------------- helpers


def _site(loaded: Any) -> Site:
    from mcu_control.audit import AuditLog
    from mcu_control.paths import audit_path
    from mcu_control.site import Site

    return Site(loaded, audit=AuditLog(audit_path()), actor="cli")


def _points(site: Site, ids: list[str] | None) -> list[str] | None:
    from devices.errors import ConfigError

    try:
        site.points(ids)
    except KeyError as exc:
        known = ", ".join(p.id for p in site.profile.points)
        raise ConfigError(f"unknown point {exc.args[0]}", hint=f"points are: {known}") from None
    return ids or None


class _Progress:
    """A progress bar on stderr while checks finish (silent with --json or --quiet)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._progress: Any = None

    def __enter__(self) -> Any:
        if OPTIONS.json or OPTIONS.quiet:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("[bold]drill"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=err_console(),
            transient=True,
        )
        self._progress.start()
        task = self._progress.add_task("", total=self.total)

        def advance(result: Any) -> None:
            self._progress.update(task, advance=1, description=f"{result.point} {result.check}")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _drill_table(report: DrillReport) -> Any:
    t = table(
        f"Drill {report.id} ({report.label}) — {report.verdict.value.upper()}",
        "Point",
        "Verdict",
        "Check",
        "Device",
        "Result",
    )
    for p in report.points:
        first = True
        for c in p.checks:
            style = VERDICT_STYLE[c.verdict.value]
            t.add_row(
                p.name if first else "",
                f"[{VERDICT_STYLE[p.verdict.value]}]{p.verdict.value.upper()}[/]" if first else "",
                c.check,
                (c.device or "").split(".", 1)[-1],
                f"[{style}]{c.verdict.value.upper()}[/] {escape(c.reason)}",
            )
            first = False
    return t


def _bringup_table(report: BringupReport) -> Any:
    t = table(
        f"Bring-up of {report.conference}: {report.connected}/{len(report.points)} connected, "
        f"recording {'ON' if report.recording else 'OFF'} — {report.verdict.value.upper()}",
        "Point",
        "Call",
        "Attempts",
        "Address",
        "Cameras / microphones",
    )
    for p in report.points:
        call = (
            "[green]connected[/]" + (" (adopted)" if p.adopted else "")
            if p.connected
            else f"[bold red]failed[/] {escape(p.reason)}"
        )
        steps = "; ".join(
            f"[{VERDICT_STYLE[s.verdict.value]}]{escape(s.reason)}[/]" for s in p.steps
        )
        t.add_row(p.name, call, str(p.attempts), p.address or "", steps)
    if not report.recording:
        console().print(f"[bold red]recording:[/] {escape(report.recording_reason)}")
    return t
