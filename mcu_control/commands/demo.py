"""`mcu-control demo` — the simulated rig, a drill, a bring-up, then live status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcu_control.commands.common import (
    OPTIONS,
    console,
    emit,
    err_console,
    print_json,
    require_audit,
    run,
    table,
)
from mcu_control.commands.sim import ScenarioOpt, prepare_rig, rig_profile

if TYPE_CHECKING:
    from mcu_control.orchestrator import Orchestrator
    from mcu_control.results import BringupReport, DrillReport
    from mcu_control.session_record import SessionRecords
    from mcu_control.site import Site
    from mcu_control.state import StateStore
    from profiles.loader import LoadedProfile


def command(
    scenario: ScenarioOpt = None,
    once: Annotated[
        bool, typer.Option("--once", help="Exit after the bring-up, with its exit code.")
    ] = False,
    skip_drill: Annotated[
        bool, typer.Option("--no-drill", help="Bring up without the drill first.")
    ] = False,
    refresh: Annotated[float, typer.Option(help="Seconds between live status refreshes.")] = 2.0,
) -> None:
    """Start the simulated rig, run a drill and a bring-up, then show live status.

    The rig serves the shipped 9-point demo, or --profile localized onto 127.0.0.1 (see
    `sim up`). When the profile has sessions, the drill and the bring-up take the next
    session's roster (and its national link, if it has one); else every point.
    SIGTERM, SIGINT (Ctrl-C) and SIGHUP tear the session down, stop the daemon and every
    simulator (snmpsim included) and remove temp folders; the audit log ends with the teardown.
    """
    import asyncio

    from hil.rig import Rig
    from mcu_control.audit import AuditLog
    from mcu_control.commands.ops import _bringup_table, _drill_table
    from mcu_control.commands.sim import load_validated_scenario
    from mcu_control.orchestrator import Orchestrator
    from mcu_control.paths import audit_path, state_dir
    from mcu_control.signals import until_signal
    from mcu_control.site import Site

    prepare_rig()
    loaded, _ = rig_profile()
    scen = run(lambda: _value(load_validated_scenario(scenario, loaded)))
    points, national, session_title = _next_session(loaded)
    require_audit()
    say = err_console().print if not OPTIONS.quiet else (lambda *a, **k: None)

    async def go() -> tuple[DrillReport | None, BringupReport | None]:
        rig = Rig(loaded, scen, state_dir=state_dir())
        say(
            f"[bold]starting the simulated rig[/] ({len(loaded.profile.points)} points, scenario {scen.name})"
        )
        if session_title is not None:
            count = len(points) if points is not None else len(loaded.profile.points)
            link = ", with the national office" if national else ""
            say(f"next session: {session_title} ({count} points{link})")
        site: Site | None = None
        records: SessionRecords | None = None
        orch: Orchestrator | None = None
        acted = False  # a bring-up began: a stop must tear the session down
        finished = False
        try:
            await rig.start()
            site = Site(loaded, audit=AuditLog(audit_path()), actor="demo")
            records = _session_records(site)
            orch = Orchestrator(site, state_dir=state_dir())
            drill: DrillReport | None = None
            if not skip_drill:
                say("[bold]drill[/] (kiểm thử kết nối) …")
                drill = await orch.drill(label="demo", points=points, national=national)
                if not OPTIONS.json and not OPTIONS.quiet:
                    console().print(_drill_table(drill))
            say("[bold]bring-up[/] …")
            acted = True
            await _open_demo_session(records)
            report = await orch.bringup(points=points, national=national)
            await records.brought_up(report)
            if once:
                await _close_demo_session(orch, records, say)
                finished = True
                return drill, report
            if not OPTIONS.json and not OPTIONS.quiet:
                console().print(_bringup_table(report))
            await _live(site, refresh)
            return drill, report
        finally:
            # shielded: a signal cancels `go`, and the clean-up must still run to its end
            await asyncio.shield(
                _cleanup(rig, site, orch, records, teardown_first=acted and not finished)
            )

    async def main() -> tuple[tuple[DrillReport | None, BringupReport | None] | None, int | None]:
        return await until_signal(go)

    result, sig = run(main)
    if sig is not None or result is None or result[1] is None:
        say("stopped: the session was torn down and every simulator is down")
        raise typer.Exit(0)
    report = result[1]
    if OPTIONS.json:
        print_json(report.to_dict())
    elif once:
        emit(report.to_dict(), lambda: _bringup_table(report))
    raise typer.Exit(report.exit_code)


def _next_session(loaded: LoadedProfile) -> tuple[list[str] | None, bool, str | None]:
    """The next scheduled session's roster (point ids), whether it is national, its title.

    (None, False, None) when the profile schedules no session: every point joins.
    """
    import datetime as dt

    from mcu_control.roster import next_session
    from scheduler.calendar import Calendar

    profile = loaded.profile
    if not profile.sessions.rules and not profile.sessions.one_off:
        return None, False, None
    calendar = Calendar(profile.sessions, profile.site.timezone)
    upcoming = next_session(loaded, calendar, dt.datetime.now(dt.UTC))
    if upcoming is None or upcoming.session_id is None:
        return None, False, None
    points = list(upcoming.points) if upcoming.points is not None else None
    if points is not None and set(points) == {p.id for p in profile.points}:
        points = None  # everyone: as without a roster
    return points, upcoming.national, upcoming.title


def _session_records(site: Site) -> SessionRecords:
    from mcu_control.paths import state_dir
    from mcu_control.session_record import SessionRecords

    assert site.audit is not None
    return SessionRecords(lambda: site, state_dir(), audit=site.audit, actor="demo")


async def _open_demo_session(records: SessionRecords) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC).astimezone(records.site_zone()).replace(microsecond=0)
    await records.opening(f"demo@{now.isoformat()}", "Phiên trình diễn (thiết bị mô phỏng)", now)


async def _close_demo_session(orch: Orchestrator, records: SessionRecords, say: Any) -> None:
    """--once: wait until the recording file grows, tear down, write the session record."""
    await records.wait_recording(timeout_s=15.0)
    say("[bold]teardown[/] …")
    await orch.teardown()
    html = await records.closed()
    if html is not None and records.last is not None:
        pdf = records.last[1]
        say(f"session record (biên bản): {html}" + (f" and {pdf}" if pdf else ""))


async def _cleanup(
    rig: Any,
    site: Site | None,
    orch: Orchestrator | None,
    records: SessionRecords | None,
    *,
    teardown_first: bool,
) -> None:
    """Tear the session down (if one was brought up), close the devices, stop the rig."""
    import contextlib

    try:
        if orch is not None and teardown_first:
            with contextlib.suppress(Exception):
                await orch.teardown()
                if records is not None:
                    await records.closed()
        if records is not None:
            with contextlib.suppress(Exception):
                await records.stop()
        if site is not None:
            await site.close()
    finally:
        await rig.stop()


async def _live(site: Site, refresh: float) -> None:
    """Run the daemon (supervisors, scheduler, MQTT feed on an embedded broker) and redraw until Ctrl-C."""
    import asyncio
    import contextlib

    from rich.live import Live

    from mcu_control.app import EmbeddedBrokerComponent, FeedOptions, build_daemon
    from mcu_control.paths import state_dir

    daemon = build_daemon(
        site.loaded,
        state_dir=state_dir(),
        feed=FeedOptions(embedded_port=1883),
        supervise_interval_s=max(refresh, 1.0),
        device_timeout_s=3.0,
        health_reads_per_s=None,  # 9 local simulated points, redrawn every `refresh` s
    )
    task = asyncio.create_task(daemon.run(install_signals=False), name="daemon")
    component = next((c for c in daemon.components if isinstance(c, EmbeddedBrokerComponent)), None)
    if component is not None:  # its port is final only once the daemon has started it
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(component.started.wait(), 10)
    url = component.broker.url if component is not None else site.loaded.profile.mqtt.url
    err_console().print(f"daemon running; MQTT feed on {url}; Ctrl-C to tear down and stop")
    try:
        with Live(_points_table(daemon.store), console=console(), refresh_per_second=2) as live:
            while not task.done():
                await asyncio.sleep(refresh)
                live.update(_points_table(daemon.store))
    except asyncio.CancelledError:
        pass
    finally:
        daemon.request_stop()
        await asyncio.gather(task, return_exceptions=True)


def _points_table(store: StateStore) -> Any:
    t = table("Live status", "Point", "Phase", "Call", "Loss %", "Recording")
    for p in store.points.values():
        loss = "" if p.packet_loss_pct is None else f"{p.packet_loss_pct:.1f}"
        rec = "" if p.recording is None else ("⏺ ON" if p.recording else "off")
        t.add_row(p.name, p.phase.value, p.call_state or "", loss, rec)
    return t


async def _value(v: Any) -> Any:
    return v
