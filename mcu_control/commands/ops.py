"""Session operations: `drill`, `bringup`, `teardown`, `status` (root-level commands)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
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
    from mcu_control.bringup import BringupEvent
    from mcu_control.orchestrator import Orchestrator
    from mcu_control.results import BringupReport, DrillReport
    from mcu_control.site import Site

PointOpt = Annotated[
    list[str] | None,
    typer.Option("--point", help="Only this point id (repeatable).", show_default=False),
]
SessionOpt = Annotated[
    str | None,
    typer.Option(
        "--session",
        help="Only the points of this session's roster (a rule, one-off or added session id).",
        show_default=False,
    ),
]
VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


WaitOpt = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        max=3600,
        help="Seconds to queue behind a session operation already running (default: refuse).",
    ),
]


def drill(
    point: PointOpt = None,
    session: SessionOpt = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Skip preset moves; shorter test calls.")
    ] = False,
    label: Annotated[
        str, typer.Option(help="Label kept with the result (e.g. T-1d, T-2h).")
    ] = "manual",
    wait: WaitOpt = 0.0,
) -> None:
    """Pre-session drill of every point (exit 0 pass, 1 warnings, 2 a check failed)."""
    from mcu_control.orchestrator import resolve_point_ids

    loaded = load()
    point, national = _session_points(loaded, session, point)
    resolve_point_ids(loaded.profile, point)
    _secrets_readable(loaded)
    require_audit()
    orch: list[Orchestrator] = []

    async def go() -> DrillReport:
        site = _site(loaded)
        try:
            o = _orchestrator(site, wait)
            orch.append(o)
            planned = o.planned_drill_checks(points=point, quick=quick, national=national)
            with _Progress(planned) as advance:
                return await o.drill(
                    points=point, quick=quick, label=label, progress=advance, national=national
                )
        finally:
            await site.close()

    report = run(go, summary=lambda: orch[0].interrupted if orch else None)
    if orch and orch[0].store_warning:
        err_console().print(f"[yellow]warning:[/] {escape(orch[0].store_warning)}")
    emit(report.to_dict(), lambda: _drill_table(report))
    raise typer.Exit(report.exit_code)


def bringup(point: PointOpt = None, session: SessionOpt = None, wait: WaitOpt = 0.0) -> None:
    """Connect every point, move cameras, unmute microphones, start the recording (exit 0/1/2)."""
    loaded = load()
    point, national = _session_points(loaded, session, point)
    require_audit()
    orch: list[Orchestrator] = []

    async def go() -> BringupReport:
        site = _site(loaded)
        try:
            orch.append(_orchestrator(site, wait))
            with _BringupProgress() as on_event:
                return await orch[0].bringup(points=point, on_event=on_event, national=national)
        finally:
            await site.close()

    report = run(go, summary=lambda: orch[0].interrupted if orch else None)
    emit(report.to_dict(), lambda: _bringup_table(report))
    raise typer.Exit(report.exit_code)


def teardown(point: PointOpt = None, wait: WaitOpt = 0.0) -> None:
    """Stop the recording, hang up and remove participants, mute the session microphones."""
    loaded = load()
    require_audit()
    orch: list[Orchestrator] = []

    async def go() -> dict[str, Any]:
        site = _site(loaded)
        try:
            orch.append(_orchestrator(site, wait))
            return await orch[0].teardown(points=point)
        finally:
            await site.close()

    result = run(go, summary=lambda: orch[0].interrupted if orch else None)

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
    from mcu_control.paths import state_dir
    from mcu_control.statusd import ask_daemon
    from mcu_control.validate import check_positive

    check_positive("--timeout", timeout)
    # a daemon on this state dir knows the live session: ask it first, before even the profile
    snap = ask_daemon(state_dir())
    if snap is not None:
        OPTIONS.timezone = snap.get("site", {}).get("timezone") or OPTIONS.timezone
    else:
        from mcu_control.status import poll

        loaded = load()

        async def go() -> dict[str, Any]:
            site = _site(loaded)
            try:
                return await poll(site, timeout_s=timeout)
            finally:
                await site.close()

        site = loaded.profile.site
        snap = {"source": "devices", "site": {"id": site.id, "name": site.name}, **run(go)}
        _derive_session(loaded, snap)

    def human() -> Any:
        t = table(
            f"{snap['site']['name']} — status",
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
    from mcu_control.statusd import exit_code

    raise typer.Exit(exit_code(snap))


# ---------------------------------------------------------------------- helpers


def _secrets_readable(loaded: Any) -> None:
    """A secret that cannot be read is a setup mistake (exit 3), not a failed device (exit 2)."""
    from devices.errors import ConfigError
    from profiles.loader import check_secrets

    found = check_secrets(loaded)
    if found.problems:
        raise ConfigError(
            f"{len(found.problems)} secret(s) cannot be read",
            problems=found.problems,
            hint="see `mcu-control profile check --secrets`",
        )


def _derive_session(loaded: Any, snap: dict[str, Any]) -> None:
    """Without a daemon: the session phase from the MCU's calls, the last drill from the store."""
    from mcu_control.paths import state_dir
    from mcu_control.statusd import derive_session

    derive_session(snap, loaded.profile.central.id, state_dir() / "drills.sqlite")


def _site(loaded: Any) -> Site:
    from mcu_control.audit import AuditLog
    from mcu_control.paths import audit_path
    from mcu_control.site import Site

    return Site(loaded, audit=AuditLog(audit_path()), actor="cli")


def _session_points(
    loaded: Any, session: str | None, points: list[str] | None
) -> tuple[list[str] | None, bool]:
    """`--session ID`: that session's roster (point ids, roster order) and whether it is
    national; else (`--point`, False)."""
    if session is None:
        return points, False
    from mcu_control.commands.common import device_errors, fail_config
    from mcu_control.commands.schedule import open_db
    from mcu_control.roster import session_roster

    if points:
        from devices.errors import ConfigError

        fail_config(ConfigError("--session and --point cannot be combined", hint="use one"))
    db = open_db()  # the sessions added with `schedule add` (exit 2 if it cannot be read)
    try:
        changes = [r.change for r in db.changes()]
    finally:
        db.dispose()
    with device_errors():
        found = session_roster(loaded.profile, session, changes)
    return list(found.points), found.national


def _orchestrator(site: Site, wait_s: float) -> Orchestrator:
    from mcu_control.orchestrator import Orchestrator
    from mcu_control.paths import state_dir

    return Orchestrator(site, state_dir=state_dir(), lock_wait_s=wait_s)


#: without a terminal (cron, a pipe) progress is a plain line on stderr this often
PROGRESS_EVERY_S = float(os.environ.get("MCU_CONTROL_PROGRESS_EVERY_S", "5"))


class _Progress:
    """Drill progress on stderr (silent with --json or --quiet).

    On a terminal: a progress bar. Otherwise: a line every PROGRESS_EVERY_S seconds
    ("drill: 23/77 checks done (FAIL 1, WARN 2), 10 s"), so a cron log shows the drill is
    alive; a drill can be silent for 15 s while a test call runs.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self._progress: Any = None
        self._ticker: _Ticker | None = None

    def __enter__(self) -> Any:
        if OPTIONS.json or OPTIONS.quiet:
            return None
        if not err_console().is_terminal:
            self._ticker = _Ticker(self.total)
            self._ticker.start()
            return self._ticker.advance
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
        if self._ticker is not None:
            self._ticker.stop()


class _Ticker(threading.Thread):
    """Writes the drill's progress to stderr every PROGRESS_EVERY_S seconds (no terminal)."""

    def __init__(self, total: int) -> None:
        super().__init__(name="drill-progress", daemon=True)
        self.total = total
        self.done = 0
        self.counts: dict[str, int] = {"fail": 0, "warn": 0}
        self._stop_event = threading.Event()
        self._t0 = time.monotonic()

    def advance(self, result: Any) -> None:
        self.done += 1
        verdict = getattr(result.verdict, "value", str(result.verdict))
        if verdict in self.counts:
            self.counts[verdict] += 1

    def run(self) -> None:
        self._line("started")
        while not self._stop_event.wait(PROGRESS_EVERY_S):
            self._line("running")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2)

    def _line(self, what: str) -> None:
        elapsed = time.monotonic() - self._t0
        sys.stderr.write(
            f"drill {what}: {self.done}/{self.total} checks done "
            f"(FAIL {self.counts['fail']}, WARN {self.counts['warn']}), {elapsed:.0f} s\n"
        )
        sys.stderr.flush()


class _BringupProgress:
    """Bring-up progress on stderr: a bar per point on a terminal, else a line per event."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Callable[[BringupEvent], None] | None:
        if OPTIONS.json or OPTIONS.quiet:
            return None
        if not err_console().is_terminal:
            return self._line
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("[bold]{task.fields[point]:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=err_console(),
            transient=False,
        )
        self._progress.start()
        return self._bar

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _bar(self, event: BringupEvent) -> None:
        if event.step == "start":
            self._tasks[event.point] = self._progress.add_task(
                "dialling…", total=event.steps, point=event.point
            )
            return
        task = self._tasks.get(event.point)
        if task is not None:
            style = VERDICT_STYLE.get(event.verdict, "")
            text = f"{event.step} [{style}]{event.verdict.upper()}[/]"
            self._progress.update(task, advance=1, description=text)

    @staticmethod
    def _line(event: BringupEvent) -> None:
        if event.step == "start":
            text = f"bringup: {event.point}: started ({event.steps} steps)"
        else:
            text = f"bringup: {event.point}: {event.step} {event.verdict.upper()}"
            if event.detail:
                text += f" — {event.detail}"
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _drill_summary(report: DrillReport) -> str:
    """The FAIL and WARN checks first, in one line each, then the counts (before the table)."""
    lines: list[tuple[str, str]] = []
    counts = {"fail": 0, "warn": 0, "pass": 0}
    for p in report.points:
        for c in p.checks:
            v = c.verdict.value
            counts[v] = counts.get(v, 0) + 1
            if v in ("fail", "warn"):
                where = f"{p.name} · {c.check}"
                if c.device:
                    where += f" ({c.device.split('.', 1)[-1]})"
                lines.append(
                    (v, f"[{VERDICT_STYLE[v]}]{v.upper()}[/] {escape(where)}: {escape(c.reason)}")
                )
    ordered = [text for v, text in lines if v == "fail"] + [
        text for v, text in lines if v == "warn"
    ]
    head = (
        f"[bold]Drill {escape(report.id)} — {report.verdict.value.upper()}:[/] "
        f"{counts['fail']} FAIL, {counts['warn']} WARN, {counts['pass']} PASS"
    )
    return "\n".join([head, *(f"  {t}" for t in ordered)])


def _drill_table(report: DrillReport) -> Any:
    from rich.console import Group

    return Group(_drill_summary(report), "", _drill_checks_table(report))


def _drill_checks_table(report: DrillReport) -> Any:
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
        where = next((m for m, ids in report.placement.items() if p.point in ids), None)
        label = f"{p.name} [dim]({where})[/]" if where and len(report.placement) > 1 else p.name
        t.add_row(label, call, str(p.attempts), p.address or "", steps)
    for lnk in report.links:  # the cascade links and the national link, after the points
        call = (
            "[green]connected[/]" + (" (adopted)" if lnk.adopted else "")
            if lnk.connected
            else f"[bold red]failed[/] {escape(lnk.reason)}"
        )
        what = "national link" if lnk.kind == "upstream" else f"cascade link to {lnk.mcu}"
        t.add_row(
            f"{escape(lnk.name)} [dim]({what})[/]", call, str(lnk.attempts), lnk.address or "", ""
        )
    if not report.recording:
        console().print(f"[bold red]recording:[/] {escape(report.recording_reason)}")
    return t
