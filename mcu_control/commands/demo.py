"""`mcu-control demo` — the simulated rig, a drill, a bring-up, then live status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcu_control.commands.common import (
    OPTIONS,
    console,
    emit,
    err_console,
    load,
    print_json,
    run,
    table,
)
from mcu_control.commands.sim import ScenarioOpt, prepare_rig, rig_profile_path

if TYPE_CHECKING:
    from mcu_control.orchestrator import Orchestrator
    from mcu_control.results import BringupReport, DrillReport
    from mcu_control.session_record import SessionRecords
    from mcu_control.site import Site
    from mcu_control.state import StateStore


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
    """Start the simulated 9-point rig, run a drill and a bring-up, then show live status."""
    import asyncio
    import contextlib

    from hil.rig import Rig
    from hil.scenario import load_scenario
    from mcu_control.audit import AuditLog
    from mcu_control.commands.ops import _bringup_table, _drill_table
    from mcu_control.orchestrator import Orchestrator
    from mcu_control.paths import audit_path, state_dir
    from mcu_control.site import Site

    prepare_rig()
    loaded = load(rig_profile_path())
    scen = run(lambda: _value(load_scenario(scenario)))
    say = err_console().print if not OPTIONS.quiet else (lambda *a, **k: None)

    async def go() -> tuple[DrillReport | None, BringupReport]:
        rig = Rig(loaded, scen, state_dir=state_dir())
        say(
            f"[bold]starting the simulated rig[/] ({len(loaded.profile.points)} points, scenario {scen.name})"
        )
        await rig.start()
        site = Site(loaded, audit=AuditLog(audit_path()), actor="demo")
        records = _session_records(site)
        orch.append(Orchestrator(site, state_dir=state_dir()))
        try:
            drill: DrillReport | None = None
            if not skip_drill:
                say("[bold]drill[/] (kiểm thử kết nối) …")
                drill = await orch[0].drill(label="demo")
                if not OPTIONS.json and not OPTIONS.quiet:
                    console().print(_drill_table(drill))
            say("[bold]bring-up[/] …")
            await _open_demo_session(records)
            report = await orch[0].bringup()
            await records.brought_up(report)
            if once:
                await _close_demo_session(orch[0], records, say)
                return drill, report
            if not OPTIONS.json and not OPTIONS.quiet:
                console().print(_bringup_table(report))
            with contextlib.suppress(asyncio.CancelledError):  # Ctrl-C ends the live view: exit 0
                await _live(site, refresh)
            return drill, report
        finally:
            with contextlib.suppress(Exception):
                if not once:
                    await orch[0].teardown()
                    await records.closed()
            await records.stop()
            await site.close()
            await rig.stop()

    orch: list[Orchestrator] = []
    _drill, report = run(go, summary=lambda: orch[0].interrupted if orch else None)
    if OPTIONS.json:
        print_json(report.to_dict())
    elif once:
        emit(report.to_dict(), lambda: _bringup_table(report))
    raise typer.Exit(report.exit_code)


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
