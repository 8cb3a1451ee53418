"""`mcu-control camera list|presets|goto|save|move|stop|status`.

Cameras are addressed as `POINT CAMERA` (profile ids, e.g. `tien-du cam1`); presets by the
profile's display name (`"chủ trì"`) or by the raw device token / VISCA number.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcu_control.commands.common import (
    OPTIONS,
    emit,
    escape,
    group,
    load,
    print_json,
    run,
    table,
)
from mcu_control.exitcodes import Exit

if TYPE_CHECKING:
    from devices.interfaces import PtzCamera, PtzPosition, PtzStatus
    from profiles.camera import CameraConfig
    from profiles.loader import LoadedProfile
    from profiles.schema import PointConfig

app = group("Pan-tilt-zoom cameras: presets, moves, status.")

PointArg = Annotated[str, typer.Argument(help="Bridge point id, e.g. tien-du.")]
CameraArg = Annotated[str, typer.Argument(help="Camera id within the point, e.g. cam1.")]
OptPointArg = Annotated[str | None, typer.Argument(help="Only this point.")]
OptCameraArg = Annotated[str | None, typer.Argument(help="Only this camera.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds to wait.", min=0.1)]


@app.command("list")
def list_cameras() -> None:
    """Every camera of the profile (no device is contacted)."""
    loaded = load()
    rows: list[dict[str, Any]] = []
    for pt in loaded.profile.points:
        for cam in pt.cameras:
            where = cam.serial.port if cam.serial else f"{cam.host}:{cam.effective_port}"
            rows.append(
                {
                    "id": f"{pt.id}.{cam.id}",
                    "point": pt.id,
                    "camera": cam.id,
                    "name": cam.name,
                    "driver": cam.driver,
                    "model": cam.model,
                    "address": where,
                    "presets": dict(cam.presets),
                    "session_preset": cam.session_preset,
                }
            )

    def human() -> Any:
        t = table("Cameras", "Point", "Camera", "Name", "Driver", "Model", "Address", "Presets")
        for r in rows:
            t.add_row(
                r["point"],
                r["camera"],
                r["name"],
                r["driver"],
                r["model"],
                r["address"],
                ", ".join(r["presets"]),
            )
        return t

    emit({"cameras": rows}, human)


@app.command()
def presets(point: PointArg, camera: CameraArg) -> None:
    """Presets stored in the camera (VISCA: the profile's table), with profile names."""
    loaded = load()
    pt, cfg = _find(loaded, point, camera)

    async def go() -> list[dict[str, Any]]:
        cam = _build(loaded, pt, cfg)
        try:
            found = await cam.presets()
        finally:
            await cam.close()
        names = {tok: name for name, tok in cfg.presets.items()}
        return [
            {
                "token": p.token,
                "name": p.name,
                "profile_name": names.get(p.token),
                "position": _pos(p.position),
            }
            for p in found
        ]

    rows = run(go)

    def human() -> Any:
        t = table(f"Presets of {pt.id}.{cfg.id}", "Token", "Name", "Profile name", "Position")
        for r in rows:
            p = r["position"]
            where = f"{p['pan']:+.3f} {p['tilt']:+.3f} {p['zoom']:.3f}" if p else "—"
            t.add_row(r["token"], r["name"], r["profile_name"] or "", where)
        return t

    emit({"camera": f"{pt.id}.{cfg.id}", "presets": rows}, human)


@app.command()
def goto(
    point: PointArg,
    camera: CameraArg,
    preset: Annotated[str, typer.Argument(help="Profile preset name or device token/number.")],
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return without confirming.")] = False,
    timeout: TimeoutOpt = 15.0,
) -> None:
    """Recall a preset and (by default) wait until the camera has arrived."""
    from mcu_control.audit import AuditLog
    from mcu_control.orchestrator import Orchestrator, resolve_preset
    from mcu_control.paths import audit_path, state_dir
    from mcu_control.site import Site
    from mcu_control.validate import check_positive

    loaded = load()
    pt, cfg = _find(loaded, point, camera)
    check_positive("--timeout", timeout)
    # the one rule, as over MQTT: a profile preset name (NFC) or a token the profile lists
    _, _, name, token = resolve_preset(pt, cfg.id, preset)

    async def go() -> tuple[dict[str, Any], float]:
        site = Site(loaded, audit=AuditLog(audit_path()), actor="cli")
        start = time.monotonic()
        try:
            done = await Orchestrator(site, state_dir=state_dir()).goto_preset(
                pt.id, cfg.id, token, wait=not no_wait, timeout_s=timeout
            )
        finally:
            await site.close()
        return done, time.monotonic() - start

    done, elapsed = run(go)
    arrived = done["arrived"]
    data = {
        "camera": f"{pt.id}.{cfg.id}",
        "preset": {"name": name, "token": token},
        "arrived": arrived,
        "reason": done["reason"],
        "status": {
            "position": {k: round(v, 4) for k, v in done["position"].items()}
            if done["position"]
            else None,
            "moving": done["moving"],
        },
        "elapsed_s": round(elapsed, 3),
    }
    mark = {True: "[green]✓[/]", False: "[bold red]✗[/]", None: "[yellow]?[/]"}[arrived]
    emit(
        data,
        lambda: (
            f"{mark} {pt.id}.{cfg.id} → {name or token}: {escape(done['reason'])} ({elapsed:.1f} s)"
        ),
    )
    if arrived is False:
        raise typer.Exit(Exit.CHECK_FAILED)
    if arrived is None and not no_wait:
        raise typer.Exit(Exit.WARNINGS)


@app.command()
def save(
    point: PointArg,
    camera: CameraArg,
    name: Annotated[str, typer.Argument(help="Preset name (a profile name reuses its token).")],
    token: Annotated[
        str | None, typer.Option("--token", help="Device token / VISCA number to overwrite.")
    ] = None,
) -> None:
    """Store the current position as a preset."""
    loaded = load()
    pt, cfg = _find(loaded, point, camera)
    token = token or cfg.presets.get(name)

    async def go() -> str:
        cam = _build(loaded, pt, cfg)
        try:
            return await cam.save_preset(token, name)
        finally:
            await cam.close()

    saved = run(go)
    emit(
        {"camera": f"{pt.id}.{cfg.id}", "name": name, "token": saved},
        lambda: f"[green]✓[/] {pt.id}.{cfg.id}: saved {name!r} as {saved}",
    )


@app.command()
def move(
    point: PointArg,
    camera: CameraArg,
    pan: Annotated[float, typer.Option("--pan", help="Velocity (or position) −1…1.")] = 0.0,
    tilt: Annotated[float, typer.Option("--tilt", help="Velocity (or position) −1…1.")] = 0.0,
    zoom: Annotated[float, typer.Option("--zoom", help="Velocity −1…1 (position 0…1).")] = 0.0,
    absolute: Annotated[
        bool, typer.Option("--absolute", help="Go to the position instead of moving at a speed.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Continuous move: seconds before the Stop.", min=0.1),
    ] = 1.0,
    wait_timeout: Annotated[
        float,
        typer.Option(
            "--wait-timeout", help="--absolute: seconds to wait for the camera to arrive.", min=0.1
        ),
    ] = 15.0,
) -> None:
    """Continuous move for --timeout seconds (always ended by a Stop), or --absolute to a position.

    The Stop is sent when the timeout ends, and at once on Ctrl-C or SIGTERM.
    """
    import asyncio
    import signal

    from devices.interfaces import PtzPosition
    from mcu_control.validate import check_number, check_positive

    loaded = load()
    pt, cfg = _find(loaded, point, camera)
    # the generic space (docs/cli.md): velocities −1…1; positions pan/tilt −1…1, zoom 0…1
    kind = "position" if absolute else "velocity"
    check_number(f"--pan {kind}", pan, low=-1.0, high=1.0)
    check_number(f"--tilt {kind}", tilt, low=-1.0, high=1.0)
    check_number(f"--zoom {kind}", zoom, low=0.0 if absolute else -1.0, high=1.0)
    check_positive("--timeout", timeout)

    async def go() -> PtzStatus | None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        terminated = asyncio.Event()

        def on_sigterm() -> None:
            terminated.set()
            task.cancel()

        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        try:
            return await drive()
        except asyncio.CancelledError:
            if terminated.is_set():
                raise typer.Exit(128 + signal.SIGTERM) from None
            raise
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    async def drive() -> PtzStatus | None:
        cam = _build(loaded, pt, cfg)
        try:
            if absolute:
                position = PtzPosition(pan, tilt, zoom)
                return await cam.absolute_move(position, timeout_s=wait_timeout)
            await cam.continuous_move(pan, tilt, zoom, timeout_s=timeout)
            return None
        finally:
            await cam.close()  # sends the pending Stop: after --timeout, at once when cancelled

    status = run(go)
    emit(
        {
            "camera": f"{pt.id}.{cfg.id}",
            "mode": "absolute" if absolute else "continuous",
            "request": {
                "pan": pan,
                "tilt": tilt,
                "zoom": zoom,
                "timeout_s": wait_timeout if absolute else timeout,
            },
            "status": _status(status) if status else None,
        },
        lambda: f"[green]✓[/] {pt.id}.{cfg.id}: {'arrived' if absolute else 'moved and stopped'}",
    )


@app.command()
def stop(point: PointArg, camera: CameraArg) -> None:
    """Stop every movement."""
    loaded = load()
    pt, cfg = _find(loaded, point, camera)

    async def go() -> None:
        cam = _build(loaded, pt, cfg)
        try:
            await cam.stop()
        finally:
            await cam.close()

    run(go)
    emit({"camera": f"{pt.id}.{cfg.id}", "stopped": True}, lambda: "[green]✓[/] stopped")


@app.command()
def status(
    point: OptPointArg = None,
    camera: OptCameraArg = None,
    timeout: TimeoutOpt = 8.0,
) -> None:
    """Position, motion and (ONVIF) clock offset of cameras, queried concurrently.

    Each camera has its own deadline, so a dead camera does not slow the others; the exit
    code is 2 when any camera failed.
    """
    loaded = load()
    targets = [
        (pt, cfg)
        for pt in loaded.profile.points
        for cfg in pt.cameras
        if (point is None or pt.id == point) and (camera is None or cfg.id == camera)
    ]
    if not targets:
        _find(loaded, point or "", camera or "")

    async def go() -> list[dict[str, Any]]:
        import asyncio

        return list(
            await asyncio.gather(*(_status_of(loaded, pt, cfg, timeout) for pt, cfg in targets))
        )

    rows = run(go)
    failed = [r for r in rows if not r["ok"]]

    def human() -> Any:
        t = table("Camera status", "Camera", "Driver", "State", "Position", "Clock offset")
        for r in rows:
            p = r["position"]
            where = f"{p['pan']:+.3f} {p['tilt']:+.3f} {p['zoom']:.3f}" if p else ""
            state = (
                f"[red]{r['error']['message']}[/]"
                if not r["ok"]
                else {True: "moving", False: "idle", None: "unknown"}[r["moving"]]
            )
            off = r.get("clock_offset_s")
            t.add_row(r["id"], r["driver"], state, where, "" if off is None else f"{off:+.1f} s")
        return t

    if OPTIONS.json:
        print_json({"ok": not failed, "cameras": rows})
    else:
        emit(None, human)
    if failed:
        raise typer.Exit(Exit.CHECK_FAILED)


# ---------------------------------------------------------------------- helpers


async def _status_of(
    loaded: LoadedProfile, pt: PointConfig, cfg: CameraConfig, deadline_s: float
) -> dict[str, Any]:
    import asyncio

    from devices.errors import DeviceTimeoutError, McuControlError
    from devices.interfaces import Capability

    row: dict[str, Any] = {
        "id": f"{pt.id}.{cfg.id}",
        "point": pt.id,
        "camera": cfg.id,
        "driver": cfg.driver,
        "ok": False,
        "position": None,
        "moving": None,
        "clock_offset_s": None,
        "error": None,
    }
    cam: PtzCamera | None = None
    try:
        cam = _build(loaded, pt, cfg)
        async with asyncio.timeout(deadline_s):
            st = await cam.status()
            row.update(ok=True, position=_pos(st.position), moving=st.moving)
            if cam.supports(Capability.PTZ_CLOCK):
                row["clock_offset_s"] = round((await cam.clock()).offset_s, 1)
    except TimeoutError as exc:
        err = (
            exc
            if isinstance(exc, DeviceTimeoutError)
            else DeviceTimeoutError(
                f"no status within {deadline_s:g} s", device=row["id"], timeout_s=deadline_s
            )
        )
        row.update(ok=False, error=err.to_dict())
    except McuControlError as exc:
        row.update(ok=False, error=exc.to_dict())
    finally:
        if cam is not None:
            await cam.close()
    return row


def _find(  # noqa: RET503 — fail_config never returns
    loaded: LoadedProfile, point: str, camera: str
) -> tuple[PointConfig, CameraConfig]:
    from devices.errors import ConfigError
    from mcu_control.commands.common import fail_config
    from mcu_control.validate import nfc

    point, camera = nfc(point).strip(), nfc(camera).strip()
    for pt in loaded.profile.points:
        if pt.id == point:
            for cfg in pt.cameras:
                if cfg.id == camera:
                    return pt, cfg
            known = ", ".join(c.id for c in pt.cameras)
            fail_config(
                ConfigError(f"point {point!r} has no camera {camera!r}", hint=f"cameras: {known}")
            )
    known = ", ".join(p.id for p in loaded.profile.points)
    fail_config(ConfigError(f"unknown point {point!r}", hint=f"points are: {known}"))


def _build(loaded: LoadedProfile, pt: PointConfig, cfg: CameraConfig) -> PtzCamera:
    from mcu_control.factory import build_camera

    return build_camera(loaded, pt, cfg)


def _pos(p: PtzPosition | None) -> dict[str, float] | None:
    if p is None:
        return None
    return {"pan": round(p.pan, 4), "tilt": round(p.tilt, 4), "zoom": round(p.zoom, 4)}


def _status(s: PtzStatus) -> dict[str, Any]:
    return {"position": _pos(s.position), "moving": s.moving, "error": s.error or None}
