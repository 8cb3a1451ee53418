"""`mcu-control mcu info|health|conferences|participants|dial|hangup|mute|unmute|record`.

Every command works on the central point's MCU from the profile; the conference defaults to
the profile's conference and participants are named after bridge points (`dial tien-du`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from mcu_control.commands.common import device_errors, emit, group, load, run, table
from mcu_control.exitcodes import Exit

if TYPE_CHECKING:
    from devices.interfaces import Mcu, Participant
    from profiles.loader import LoadedProfile

T = TypeVar("T")

app = group("Talk to the site's MCU: health, conferences, dial-out, mute, recording.")

ConferenceOpt = Annotated[
    str | None,
    typer.Option("--conference", "-c", help="Conference name (default: the profile's)."),
]
PointArg = Annotated[str, typer.Argument(help="Bridge point id; the participant's name.")]


@app.command()
def info() -> None:
    """Model, software version and clock of the MCU."""
    loaded = load()

    async def op(mcu: Mcu) -> dict[str, Any]:
        return {"device": mcu.name, **_plain(await mcu.info())}

    data = run(lambda: _with_mcu(loaded, op))

    def human() -> Any:
        t = table(f"MCU {data['device']}", "Field", "Value")
        for key, value in data.items():
            t.add_row(key, "" if value is None else str(value))
        return t

    emit(data, human)


@app.command()
def health() -> None:
    """Load, fans, temperature, voltages; exit 0 ok, 1 degraded, 2 down."""
    loaded = load()

    async def op(mcu: Mcu) -> dict[str, Any]:
        return {"device": mcu.name, **(await mcu.health()).to_dict()}

    data = run(lambda: _with_mcu(loaded, op))

    def human() -> Any:
        t = table(f"MCU {data['device']}: {data['state']} — {data['reason']}", "Figure", "Value")
        for key, value in data["details"].items():
            t.add_row(key, str(value))
        return t

    emit(data, human)
    code = {"ok": Exit.OK, "degraded": Exit.WARNINGS}.get(data["state"], Exit.CHECK_FAILED)
    if code != Exit.OK:
        raise typer.Exit(code)


@app.command()
def conferences() -> None:
    """Every conference on the MCU."""
    loaded = load()

    async def op(mcu: Mcu) -> dict[str, Any]:
        return {"device": mcu.name, "conferences": [_plain(c) for c in await mcu.conferences()]}

    data = run(lambda: _with_mcu(loaded, op))

    def human() -> Any:
        t = table(f"Conferences on {data['device']}", "Name", "Active", "Numeric id", "Id")
        for c in data["conferences"]:
            t.add_row(
                c["name"],
                "yes" if c["active"] else "no",
                c["numeric_id"] or "",
                str(c["unique_id"] or ""),
            )
        return t

    emit(data, human)


@app.command()
def participants(conference: ConferenceOpt = None) -> None:
    """Participants of the conference with call state and media counters."""
    loaded = load()
    name = _conference(loaded, conference)

    async def op(mcu: Mcu) -> dict[str, Any]:
        found = await mcu.participants(name)
        return {
            "device": mcu.name,
            "conference": name,
            "participants": [_participant(p) for p in found],
        }

    data = run(lambda: _with_mcu(loaded, op))
    emit(data, lambda: _participants_table(data))


@app.command()
def dial(
    point: PointArg,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Dial this address instead of the point's codec."),
    ] = None,
    conference: ConferenceOpt = None,
    create: Annotated[
        bool, typer.Option("--create/--no-create", help="Create the conference if missing.")
    ] = True,
    wait: Annotated[
        float, typer.Option("--wait", min=0, max=300, help="Seconds to wait for connected.")
    ] = 0.0,
) -> None:
    """Dial a bridge point's codec (added if absent, redialled if disconnected)."""
    from mcu_control.builders.mcu import point_spec

    _check_wait(wait)
    loaded = load()
    name = _conference(loaded, conference)
    with device_errors():  # an unknown point is the user's mistake: exit 3, not 4
        spec = point_spec(loaded, point, address=address)

    async def op(mcu: Mcu) -> dict[str, Any]:
        await _ensure_conference(mcu, loaded, name, create=create)
        current = {p.name: p for p in await mcu.participants(name)}
        found = current.get(spec.name)
        if found is None:
            await mcu.add_participant(name, spec)
        elif found.call_state.value in ("disconnected", "dormant"):
            await mcu.connect_participant(name, spec.name)
        p = await _await_state(mcu, name, spec.name, wait)
        return _result(mcu, name, p)

    data = run(lambda: _with_mcu(loaded, op))
    emit(data, lambda: _participants_table({**data, "participants": [data["participant"]]}))
    if wait and data["participant"]["call_state"] != "connected":
        raise typer.Exit(Exit.CHECK_FAILED)


@app.command()
def hangup(
    point: PointArg,
    conference: ConferenceOpt = None,
    remove: Annotated[
        bool, typer.Option("--remove", help="Also remove the configured participant.")
    ] = False,
) -> None:
    """Disconnect a point's call (kept configured for redial unless --remove)."""
    loaded = load()
    name = _conference(loaded, conference)
    point = _participant_name(loaded, point)

    async def op(mcu: Mcu) -> dict[str, Any]:
        if remove:
            await mcu.remove_participant(name, point)
            return {
                "ok": True,
                "device": mcu.name,
                "conference": name,
                "participant": None,
                "removed": point,
            }
        await mcu.disconnect_participant(name, point)
        return _result(mcu, name, await _find(mcu, name, point))

    data = run(lambda: _with_mcu(loaded, op))
    emit(data, lambda: f"{point}: {'removed' if remove else 'disconnected'}")


@app.command()
def mute(point: PointArg, conference: ConferenceOpt = None) -> None:
    """Mute the audio the MCU receives from a point."""
    _set_mute(point, conference, muted=True)


@app.command()
def unmute(point: PointArg, conference: ConferenceOpt = None) -> None:
    """Unmute the audio the MCU receives from a point."""
    _set_mute(point, conference, muted=False)


@app.command()
def record(
    conference: ConferenceOpt = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only report; exit 2 when the link is not connected.")
    ] = False,
    wait: Annotated[
        float, typer.Option("--wait", min=0, max=300, help="Seconds to wait for connected.")
    ] = 0.0,
) -> None:
    """Dial the profile's recorder into the conference (idempotent) and report the link."""
    from mcu_control.builders.mcu import recorder_spec

    _check_wait(wait)
    loaded = load()
    name = _conference(loaded, conference)
    spec = recorder_spec(loaded)

    async def op(mcu: Mcu) -> dict[str, Any]:
        if not check:
            await mcu.start_recording(name, spec)
        p = await _await_state(mcu, name, spec.name, wait)
        out = _result(mcu, name, p)
        out["recording_connected"] = await mcu.recording_connected(name, spec.name)
        return out

    data = run(lambda: _with_mcu(loaded, op))
    connected = data["recording_connected"]
    emit(
        data, lambda: f"recording link {spec.name}: {'connected' if connected else 'NOT connected'}"
    )
    if (check or wait) and not connected:
        raise typer.Exit(Exit.CHECK_FAILED)


# --------------------------------------------------------------------------- helpers


def _set_mute(point: str, conference: str | None, *, muted: bool) -> None:
    loaded = load()
    name = _conference(loaded, conference)
    point = _participant_name(loaded, point)

    async def op(mcu: Mcu) -> dict[str, Any]:
        await mcu.set_audio_mute(name, point, muted)
        return _result(mcu, name, await _find(mcu, name, point))

    data = run(lambda: _with_mcu(loaded, op))
    emit(data, lambda: f"{point}: audio {'muted' if muted else 'unmuted'}")


async def _with_mcu(loaded: LoadedProfile, op: Callable[[Mcu], Awaitable[T]]) -> T:
    from mcu_control.builders.mcu import build

    mcu = build(loaded)
    try:
        return await op(mcu)
    finally:
        await mcu.close()


def _conference(loaded: LoadedProfile, explicit: str | None) -> str:
    from mcu_control.builders.mcu import central

    return explicit or central(loaded)[1].conference.name


async def _ensure_conference(mcu: Mcu, loaded: LoadedProfile, name: str, *, create: bool) -> None:
    from devices.errors import DeviceError
    from devices.interfaces import ConferenceSpec
    from mcu_control.builders.mcu import conference_spec

    if any(c.name == name for c in await mcu.conferences()):
        return
    if not create:
        raise DeviceError(
            f"no conference {name!r}", device=mcu.name, hint="drop --no-create to create it"
        )
    spec = conference_spec(loaded)
    await mcu.create_conference(spec if spec.name == name else ConferenceSpec(name=name))


def _check_wait(wait: float) -> None:
    from mcu_control.validate import check_number

    check_number("--wait", wait, low=0, high=300, unit=" s")


def _participant_name(loaded: LoadedProfile, point: str) -> str:
    """The MCU participant of a point id (or the recorder's id); unknown ids are exit 3."""
    from devices.errors import ConfigError
    from mcu_control.builders.mcu import central
    from profiles.naming import name_limit, participant_name

    central_point, cfg = central(loaded)
    if central_point.recorder is not None and point == central_point.recorder.id:
        return point
    if point not in {p.id for p in loaded.profile.points}:
        known = ", ".join(p.id for p in loaded.profile.points)
        raise ConfigError(f"unknown point {point!r}", hint=f"points are: {known}")
    return participant_name(point, name_limit(cfg.driver))


async def _find(mcu: Mcu, conference: str, name: str) -> Participant:
    from devices.errors import DeviceError

    for p in await mcu.participants(conference):
        if p.name == name:
            return p
    raise DeviceError(f"no participant {name!r} in conference {conference!r}", device=mcu.name)


async def _await_state(mcu: Mcu, conference: str, name: str, wait_s: float) -> Participant:
    """The participant, after waiting up to `wait_s` for its call to settle."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        p = await _find(mcu, conference, name)
        settled = p.call_state.value in ("connected", "disconnected")
        if settled or loop.time() >= deadline:
            return p
        await asyncio.sleep(min(0.2, max(0.0, deadline - loop.time())))


def _result(mcu: Mcu, conference: str, p: Participant) -> dict[str, Any]:
    return {
        "ok": True,
        "device": mcu.name,
        "conference": conference,
        "participant": _participant(p),
    }


def _participant(p: Participant) -> dict[str, Any]:
    data = _plain(p)
    data["rx_loss_ratio"] = round(p.media.rx_loss_ratio, 5)
    return data


def _plain(obj: Any) -> dict[str, Any]:
    """A dataclass as JSON-ready values (enums to strings, datetimes to ISO 8601)."""

    def conv(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: conv(v) for k, v in value.items()}
        if isinstance(value, list):
            return [conv(v) for v in value]
        return (
            value.value if hasattr(value, "value") and not isinstance(value, bool | int) else value
        )

    return {k: conv(v) for k, v in dataclasses.asdict(obj).items()}


def _participants_table(data: dict[str, Any]) -> Any:
    t = table(
        f"{data['conference']} on {data['device']}",
        "Participant",
        "Address",
        "State",
        "Reason",
        "Muted",
        "Loss",
        "Audio rx/lost",
        "Video rx/lost",
    )
    for p in data["participants"]:
        m = p["media"]
        loss = "CRIT" if p["packet_loss_critical"] else "warn" if p["packet_loss_warning"] else ""
        t.add_row(
            p["name"],
            p["address"],
            p["call_state"],
            p["disconnect_reason"] or "",
            "yes" if p["audio_muted"] else "",
            loss,
            f"{m['audio_rx_received']}/{m['audio_rx_lost']}",
            f"{m['video_rx_received']}/{m['video_rx_lost']}",
        )
    return t
