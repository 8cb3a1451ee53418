"""`mcu-control sim up|scenarios` — the simulated rig for a profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hil.genprofile import DEMO_SECRET_ENV  # the variable every rig secret reads
from mcu_control.commands.common import (
    OPTIONS,
    device_errors,
    emit,
    err_console,
    group,
    load,
    print_json,
    run,
    table,
)

app = group("Run the simulated rig (every device of a profile, on 127.0.0.1).")

DEMO_SECRET_DEFAULT = "rig-secret-2026"  # noqa: S105 — only the simulated rig accepts it

ScenarioOpt = Annotated[
    str | None,
    typer.Option(
        "--scenario",
        "-s",
        help="Shipped scenario name or YAML file (default: normal).",
        show_default=False,
    ),
]


WriteProfileOpt = Annotated[
    Path | None,
    typer.Option(
        "--write-profile",
        help="Where to write the profile localized for the rig, for other commands' --profile "
        "(default: <state dir>/rig/<profile name>.yaml; only when the profile's devices are "
        "not already on 127.0.0.1).",
        show_default=False,
    ),
]


def ensure_demo_secret() -> None:
    """The demo profile reads every secret from one variable; give it a value if unset."""
    import os

    os.environ.setdefault(DEMO_SECRET_ENV, DEMO_SECRET_DEFAULT)


def prepare_rig() -> None:
    """What every rig command needs before it starts: the simulator extra and the demo secret."""
    from hil.sim.snmp_agent import require_snmpsim

    with device_errors():
        require_snmpsim()
    ensure_demo_secret()


@app.command()
def up(scenario: ScenarioOpt = None, write_profile: WriteProfileOpt = None) -> None:
    """Start every simulator the profile names, print where each listens, run until stopped.

    A profile whose devices live elsewhere (real or documentation addresses) is localized
    first: every device on a 127.0.0.1 port of its own, every secret in
    MCU_CONTROL_DEMO_SECRET. The localized profile is written to a file named on stderr
    (and as `profile` in --json), for `run`, `drill`, `bringup` … `--profile` in another
    terminal. SIGTERM, SIGINT (Ctrl-C) and SIGHUP stop every simulator, their child processes
    (snmpsim) and temp folders; a port already in use is exit 3, naming it and its holder.
    """
    import asyncio

    from hil.rig import Rig
    from mcu_control.signals import until_signal

    prepare_rig()
    loaded, written = rig_profile(write_profile)
    scen = run(lambda: _async(load_validated_scenario, scenario, loaded))

    async def serve() -> None:
        rig = Rig(loaded, scen)
        try:
            await rig.start()
            rows = rig.endpoints()
            profile = str(written) if written is not None else None
            if OPTIONS.json:
                print_json({"scenario": scen.name, "profile": profile, "endpoints": rows})
            else:
                t = table(
                    f"Simulated rig — scenario {scen.name}",
                    "Device",
                    "Simulator",
                    "Listens on",
                    "Behaviour",
                )
                for r in rows:
                    t.add_row(r["device"], r["kind"], r["address"], r["behaviour"])
                from mcu_control.commands.common import console

                console().print(t)
                if profile is not None:
                    err_console().print(f"profile for other commands: --profile {profile}")
                err_console().print("rig running; Ctrl-C or SIGTERM to stop")
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(rig.stop())

    async def main() -> int | None:
        _, sig = await until_signal(serve)
        return sig

    sig = run(main)
    if sig is not None and not OPTIONS.quiet and not OPTIONS.json:
        err_console().print(f"stopped ({_signal_name(sig)}): every simulator is down")


def rig_profile(write_to: Path | None = None) -> tuple[Any, Path | None]:
    """The profile the rig serves and the file it was written to (None: served as it is).

    --profile (or the demo) as it is when every device is already on a local port of its
    own; else localized (hil.genprofile.localize) and written to `write_to`, by default
    <state dir>/rig/<name>.yaml. Exit 3 if the profile is invalid.
    """
    import yaml

    from hil.genprofile import needs_localizing, write_localized
    from mcu_control.paths import state_dir

    source = load(rig_profile_path())
    data = yaml.safe_load(source.path.read_text(encoding="utf-8"))
    if write_to is None and not needs_localizing(data):
        return source, None
    from hil.genprofile import localize

    target = write_to or state_dir() / "rig" / f"{source.path.stem}.yaml"
    written = write_localized(localize(data), target)
    if not OPTIONS.quiet and not OPTIONS.json:
        err_console().print(f"localized {source.path} for the rig: {written}")
    return load(written), written


def load_validated_scenario(name: str | None, loaded: Any) -> Any:
    """The scenario, checked against the profile: a device it names must exist (ConfigError)."""
    from hil.scenario import check_against_profile, load_scenario

    scen = load_scenario(name)
    check_against_profile(scen, loaded.profile)
    return scen


def _signal_name(sig: int) -> str:
    import signal

    return signal.Signals(sig).name


@app.command()
def scenarios() -> None:
    """List the shipped scenarios."""
    from hil.scenario import load_scenario, shipped_scenarios

    rows = [{"name": n, "description": load_scenario(n).description} for n in shipped_scenarios()]

    def human() -> Any:
        t = table("Scenarios", "Name", "Description")
        for r in rows:
            t.add_row(r["name"], r["description"])
        return t

    emit(rows, human)


def rig_profile_path() -> Path:
    """--profile or MCU_CONTROL_PROFILE if given, else the shipped demo (never /etc: that is real)."""
    import os

    from profiles.loader import SHIPPED_SITES

    if OPTIONS.profile is not None:
        return OPTIONS.profile
    env = os.environ.get("MCU_CONTROL_PROFILE")
    return Path(env) if env else SHIPPED_SITES / "demo.yaml"


async def _async(fn: Any, *args: Any) -> Any:
    return fn(*args)
