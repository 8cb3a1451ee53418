"""`mcu-control profile check|show`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mcu_control.commands.common import (
    OPTIONS,
    emit,
    err_console,
    escape,
    fail_config,
    group,
    print_json,
    table,
)
from mcu_control.exitcodes import Exit

if TYPE_CHECKING:
    from profiles.loader import LoadedProfile

app = group("Check and show site profiles.")

PathArg = Annotated[
    Path | None,
    typer.Argument(help="Profile YAML (default: --profile / MCU_CONTROL_PROFILE / demo)."),
]


SecretsOpt = Annotated[
    bool,
    typer.Option(
        "--secrets",
        help="Also resolve every secret: missing or unreadable is a problem (exit 3), "
        "a file readable by group/others a warning (exit 1). Run it in the service's environment.",
    ),
]


@app.command()
def check(path: PathArg = None, secrets: SecretsOpt = False) -> None:
    """Validate a profile; exit 0 if valid, 3 with every problem listed if not (1: secret warnings)."""
    from devices.errors import ConfigError
    from mcu_control.commands.common import profile_path
    from profiles.loader import check_secrets, load_profile

    target = profile_path(path)
    try:
        loaded = load_profile(target)
    except ConfigError as exc:
        if OPTIONS.json:
            problems = [p.to_dict() for p in exc.problems]
            print_json({"ok": False, "file": str(target), "problems": problems})
            raise typer.Exit(Exit.USAGE) from None
        fail_config(exc)
    summary = _summary(loaded)
    from mcu_control.commands.common import is_rig_profile

    if is_rig_profile(loaded.path):  # as every other command does (common.load)
        from mcu_control.commands.sim import ensure_demo_secret

        ensure_demo_secret()
    from profiles.loader import capacity_warnings

    capacity = capacity_warnings(loaded)  # rosters that exceed the MCUs' ports (exit 1)
    summary["capacity_warnings"] = [w.to_dict() for w in capacity]
    if not OPTIONS.json:
        for w in capacity:
            err_console().print(f"[yellow]warning:[/] {escape(str(w))}")
    if secrets:
        found = check_secrets(loaded)
        warnings = [w.to_dict() for w in found.warnings]
        if found.problems:
            if OPTIONS.json:
                problems = [p.to_dict() for p in found.problems]
                print_json(
                    {"ok": False, "file": str(target), "problems": problems, "warnings": warnings}
                )
                raise typer.Exit(Exit.USAGE)
            fail_config(
                ConfigError(
                    f"{len(found.problems)} secret(s) cannot be read",
                    problems=[*found.problems, *found.warnings],
                )
            )
        summary["secrets"] = {"checked": found.checked, "warnings": warnings}
        if not OPTIONS.json:
            for w in found.warnings:
                err_console().print(f"[yellow]warning:[/] {escape(str(w))}")
    emit(
        {"ok": True, **summary},
        lambda: (
            f"[green]✓[/] {target}: site {summary['site']['id']} — "
            f"{summary['points']} points ({summary['central']} central), {summary['devices']} devices"
            + (f", secrets readable ({summary['secrets']['checked']} sources)" if secrets else "")
        ),
    )
    if (secrets and summary["secrets"]["warnings"]) or capacity:
        raise typer.Exit(Exit.WARNINGS)


@app.command()
def show(path: PathArg = None) -> None:
    """Show the points and devices of a profile as a table (or --json)."""
    from devices.errors import ConfigError
    from mcu_control.commands.common import profile_path
    from profiles.loader import load_profile

    try:
        loaded = load_profile(profile_path(path))
    except ConfigError as exc:
        fail_config(exc)
    rows = device_rows(loaded)

    def human() -> Any:
        p = loaded.profile
        t = table(
            f"{p.site.name} ({p.site.id}) — {p.site.timezone}",
            "Point",
            "Name",
            "Device",
            "Driver",
            "Model",
            "Address",
        )
        last = None
        for r in rows:
            first = r["point"] != last
            last = r["point"]
            t.add_row(
                r["point"] if first else "",
                r["point_name"] if first else "",
                r["device"],
                r["driver"],
                r["model"] or "",
                r["address"],
            )
        return t

    emit({"site": loaded.profile.site.model_dump(mode="json"), "devices": rows}, human)


def _summary(loaded: LoadedProfile) -> dict[str, Any]:
    from profiles.placement import site_mcus
    from profiles.roster import groups

    p = loaded.profile
    return {
        "file": str(loaded.path),
        "site": {"id": p.site.id, "name": p.site.name, "timezone": p.site.timezone},
        "points": len(p.points),
        "central": sum(1 for pt in p.points if pt.role == "central"),
        "point_ids": [pt.id for pt in p.points],
        "devices": len(device_rows(loaded)),
        "models": sorted(loaded.models),
        "session_rules": [r.id for r in p.sessions.rules],
        "mcus": [
            {"id": m.id, "model": m.model, "ports": m.ports, "host": m.host}
            for m in site_mcus(p, loaded.models)
        ],
        "groups": {g: len(ids) for g, ids in groups(p).items()},
    }


def device_rows(loaded: LoadedProfile) -> list[dict[str, Any]]:
    """One row per device: point, id, driver, model and where it is reached (no secrets)."""
    rows: list[dict[str, Any]] = []
    for pt in loaded.profile.points:
        devices: list[tuple[str, str, str | None, str]] = [
            (pt.codec.id, pt.codec.driver, pt.codec.model, f"{pt.codec.address}")
        ]
        for cam in pt.cameras:
            where = cam.serial.port if cam.serial else f"{cam.host}:{cam.effective_port}"
            devices.append((cam.id, cam.driver, cam.model, where))
        if pt.mixer is not None:
            m = pt.mixer
            where = m.serial.port if m.serial else f"{m.host}:{m.effective_port}"
            devices.append((m.id, m.driver, m.model, where))
        if pt.mcu is not None:
            scheme = "https" if pt.mcu.tls else "http"
            port = f":{pt.mcu.port}" if pt.mcu.port else ""
            devices.append(
                (pt.mcu.id, pt.mcu.driver, pt.mcu.model, f"{scheme}://{pt.mcu.host}{port}")
            )
        if pt.recorder is not None:
            devices.append((pt.recorder.id, pt.recorder.protocol, None, pt.recorder.address))
        for dev_id, driver, model, address in devices:
            rows.append(
                {
                    "point": pt.id,
                    "point_name": pt.name,
                    "role": pt.role,
                    "device": dev_id,
                    "id": f"{pt.id}.{dev_id}",
                    "driver": driver,
                    "model": model,
                    "address": address,
                }
            )
    return rows
