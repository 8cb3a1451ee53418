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
    require_audit,
    run,
    table,
)
from mcu_control.commands.sim import ScenarioOpt, prepare_rig, rig_profile_path

if TYPE_CHECKING:
    from mcu_control.results import BringupReport, DrillReport
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
    """Start the simulated 9-point rig, run a drill and a bring-up, then show live status.

    SIGTERM, SIGINT (Ctrl-C) and SIGHUP tear the session down, stop the daemon and every
    simulator (snmpsim included) and remove temp folders; the audit log ends with the teardown.
    """
    import asyncio

    from hil.rig import Rig
    from mcu_control.audit import AuditLog
    from mcu_control.commands.ops import _bringup_table, _drill_table
    from mcu_control.commands.sim import load_validated_scenario
    from mcu_control.drill import Drill
    from mcu_control.drillstore import save_or_warn
    from mcu_control.paths import audit_path
    from mcu_control.signals import until_signal
    from mcu_control.site import Site

    prepare_rig()
    loaded = load(rig_profile_path())
    scen = run(lambda: _value(load_validated_scenario(scenario, loaded)))
    require_audit()
    say = err_console().print if not OPTIONS.quiet else (lambda *a, **k: None)

    async def go() -> tuple[DrillReport | None, BringupReport | None]:
        rig = Rig(loaded, scen)
        say(
            f"[bold]starting the simulated rig[/] ({len(loaded.profile.points)} points, scenario {scen.name})"
        )
        site: Site | None = None
        acted = False  # a bring-up began: a stop must tear the session down
        finished = False
        try:
            await rig.start()
            site = Site(loaded, audit=AuditLog(audit_path()), actor="demo")
            drill: DrillReport | None = None
            if not skip_drill:
                say("[bold]drill[/] (kiểm thử kết nối) …")
                drill = await Drill(site, label="demo").run()
                save_or_warn(drill)
                if not OPTIONS.json and not OPTIONS.quiet:
                    console().print(_drill_table(drill))
            say("[bold]bring-up[/] …")
            from mcu_control.bringup import bringup

            acted = True
            report = await bringup(site)
            if once:
                finished = True
                return drill, report
            if not OPTIONS.json and not OPTIONS.quiet:
                console().print(_bringup_table(report))
            await _live(site, refresh)
            return drill, report
        finally:
            # shielded: a signal cancels `go`, and the clean-up must still run to its end
            await asyncio.shield(_cleanup(rig, site, teardown_first=acted and not finished))

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


async def _cleanup(rig: Any, site: Site | None, *, teardown_first: bool) -> None:
    """Tear the session down (if one was brought up), close the devices, stop the rig."""
    import contextlib

    try:
        if site is not None:
            if teardown_first:
                from mcu_control.bringup import teardown

                with contextlib.suppress(Exception):
                    await teardown(site)
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
