"""`mcu-control mixer status|mute|unmute|level|meters` — audio DSPs by point and channel name."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from mcu_control.commands.common import (
    emit,
    escape,
    group,
    load,
    require_audit,
    run,
    table,
)
from mcu_control.exitcodes import Exit

if TYPE_CHECKING:
    from devices.errors import McuControlError
    from devices.interfaces import AudioMixer
    from mcu_control.orchestrator import Orchestrator
    from mcu_control.site import Site
    from profiles.loader import LoadedProfile
    from profiles.mixer import MixerConfig
    from profiles.schema import PointConfig

app = group("Audio mixers (DSPs): status, mute, level, meters.")

PointArg = Annotated[str, typer.Argument(help="Point id from the profile, e.g. tien-du.")]
ChannelArg = Annotated[str, typer.Argument(help="Channel name from the profile, e.g. mic-chu-tri.")]


@app.command()
def status(
    point: Annotated[
        str | None, typer.Argument(help="Point id; all mixers (concurrently) when omitted.")
    ] = None,
) -> None:
    """Health and every channel's mute/level; exit 2 if any mixer failed."""
    loaded = load()
    targets = [_mixer_of(loaded, point)] if point else _all_mixers(loaded)
    results = run(lambda: _status_all(loaded, targets))
    ok = all(r["ok"] for r in results)

    def human() -> Any:
        t = table("Mixers", "Point", "Mixer", "Health", "Channels / error")
        for r in results:
            if r["ok"]:
                chans = ", ".join(
                    f"{c['channel']}: {'MUTED' if c['muted'] else 'on'}"
                    + (f" {c['level_db']:.1f} dB" if c["level_db"] is not None else "")
                    for c in r["channels"]
                )
                state = r["health"]["state"]
                colour = "green" if state == "ok" else "yellow"
                t.add_row(r["point"], r["device"], f"[{colour}]{state}[/]", escape(chans))
            else:
                t.add_row(r["point"], r["device"], "[red]error[/]", escape(r["error"]["text"]))
        return t

    emit({"ok": ok, "mixers": results}, human)
    if not ok:
        raise typer.Exit(Exit.CHECK_FAILED)


@app.command()
def mute(point: PointArg, channel: ChannelArg) -> None:
    """Mute one channel."""
    _set_mute(point, channel, True)


@app.command()
def unmute(point: PointArg, channel: ChannelArg) -> None:
    """Unmute one channel."""
    _set_mute(point, channel, False)


@app.command(context_settings={"ignore_unknown_options": True})  # lets "-12.5" be a value
def level(
    point: PointArg,
    channel: ChannelArg,
    db: Annotated[
        float | None, typer.Argument(help="New level in dB; omit to read the level.")
    ] = None,
) -> None:
    """Read a channel's level, or set it within the model's range (then read it back)."""
    loaded = load()
    pt, cfg = _mixer_of(loaded, point)
    channel = _check_channel(cfg, channel)
    if db is not None:
        require_audit()

    async def go() -> dict[str, Any]:
        site = _site(loaded)
        try:
            if db is not None:
                await _orchestrator(site).set_level(pt.id, channel, db)
            mixer = await site.mixer(pt)
            rng = await mixer.level_range(channel)
            return {
                "point": pt.id,
                "device": cfg.id,
                "id": mixer.name,
                "channel": channel,
                "level_db": await mixer.get_level(channel),
                "min_db": rng.min_db,
                "max_db": rng.max_db,
            }
        finally:
            await site.close()

    out = run(go)
    emit(
        out,
        lambda: (
            f"{out['id']} {channel}: {out['level_db']:.1f} dB "
            f"(range {out['min_db']:g}…{out['max_db']:g} dB)"
        ),
    )


@app.command()
def meters(point: PointArg) -> None:
    """Current signal meters of a point's mixer, in dB."""
    loaded = load()
    pt, cfg = _mixer_of(loaded, point)

    async def go() -> dict[str, float]:
        mixer = _build(loaded, pt, cfg)
        try:
            await mixer.connect()
            return await mixer.meters()
        finally:
            await mixer.close()

    values = run(go)

    def human() -> Any:
        t = table(f"Meters — {pt.id}.{cfg.id}", "Channel", "Label", "dB")
        for ch, v in values.items():
            label = cfg.channels[ch].label if ch in cfg.channels else ""
            t.add_row(ch, label, f"{v:.1f}")
        return t

    emit({"point": pt.id, "device": cfg.id, "id": f"{pt.id}.{cfg.id}", "meters": values}, human)


# --------------------------------------------------------------------------- helpers


def _set_mute(point: str, channel: str, muted: bool) -> None:
    loaded = load()
    pt, cfg = _mixer_of(loaded, point)
    channel = _check_channel(cfg, channel)
    require_audit()

    async def go() -> bool:
        site = _site(loaded)
        try:
            done = await _orchestrator(site).set_mute(pt.id, channel, muted)
            return bool(done["muted"])
        finally:
            await site.close()

    now = run(go)
    emit(
        {
            "point": pt.id,
            "device": cfg.id,
            "id": f"{pt.id}.{cfg.id}",
            "channel": channel,
            "muted": now,
        },
        lambda: (
            f"{pt.id}.{cfg.id} {channel} ({cfg.channels[channel].label}): "
            + ("[red]MUTED[/]" if now else "[green]on[/]")
        ),
    )


async def _status_all(
    loaded: LoadedProfile, targets: list[tuple[PointConfig, MixerConfig]]
) -> list[dict[str, Any]]:
    """Build every driver first (imports and set-up stay out of the timed part), then query all."""
    from devices.errors import McuControlError

    built: list[AudioMixer | McuControlError] = []
    for point, cfg in targets:
        try:
            built.append(_build(loaded, point, cfg))
        except McuControlError as exc:  # e.g. a secret missing for this one mixer
            exc.device = exc.device or f"{point.id}.{cfg.id}"
            built.append(exc)
    return list(
        await asyncio.gather(
            *(_status_one(p, c, m) for (p, c), m in zip(targets, built, strict=True))
        )
    )


async def _status_one(
    point: PointConfig, cfg: MixerConfig, mixer: AudioMixer | McuControlError
) -> dict[str, Any]:
    """One mixer's health and channels; errors become data so other mixers still report."""
    from devices.errors import McuControlError

    name = f"{point.id}.{cfg.id}"
    row: dict[str, Any] = {
        "point": point.id,
        "device": cfg.id,
        "id": name,
        "driver": cfg.driver,
        "ok": False,
        "health": None,
        "channels": [],
        "error": None,
    }
    # each I/O has its own timeout; this bounds a whole status (connect, health, channels)
    budget = cfg.timeout_s * (3 + 2 * len(cfg.channels))
    started = time.perf_counter()
    try:
        if isinstance(mixer, McuControlError):
            raise mixer
        async with asyncio.timeout(budget):
            await mixer.connect()
            health = await mixer.health()
            states = await mixer.channel_states(list(cfg.channels))
        row["health"] = health.to_dict()
        row["channels"] = [
            {
                "channel": s.channel,
                "label": cfg.channels[s.channel].label,
                "muted": s.muted,
                "level_db": s.level_db,
            }
            for s in states
        ]
        row["ok"] = True
    except McuControlError as exc:
        row["error"] = {**exc.to_dict(), "text": str(exc)}
    except TimeoutError:
        text = f"{name}: no complete status within {budget:g} s"
        row["error"] = {
            "error": "DeviceTimeoutError",
            "device": name,
            "message": text,
            "text": text,
        }
    finally:
        row["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
        if not isinstance(mixer, McuControlError):
            await mixer.close()
    return row


def _build(loaded: LoadedProfile, point: PointConfig, cfg: MixerConfig) -> AudioMixer:
    from mcu_control.factory import build_mixer

    return build_mixer(loaded, point, cfg)


def _all_mixers(loaded: LoadedProfile) -> list[tuple[PointConfig, MixerConfig]]:
    return [(p, p.mixer) for p in loaded.profile.points if p.mixer is not None]


def _mixer_of(loaded: LoadedProfile, point: str) -> tuple[PointConfig, MixerConfig]:
    from mcu_control.validate import nfc

    try:
        pt = loaded.profile.point(nfc(point).strip())
    except KeyError:
        known = ", ".join(p.id for p in loaded.profile.points)
        _usage(f"unknown point {point!r}", hint=f"points are: {known}")
    if pt.mixer is None:
        with_mixer = ", ".join(p.id for p in loaded.profile.points if p.mixer is not None)
        _usage(f"point {point!r} has no mixer", hint=f"points with a mixer: {with_mixer}")
    return pt, pt.mixer


def _check_channel(cfg: MixerConfig, channel: str) -> str:
    from mcu_control.validate import nfc

    name = nfc(channel).strip()
    if name not in cfg.channels:
        _usage(f"no channel {channel!r} on this mixer", hint=f"channels: {', '.join(cfg.channels)}")
    return name


def _usage(message: str, hint: str | None = None) -> NoReturn:
    from devices.errors import ConfigError
    from mcu_control.commands.common import fail

    fail(ConfigError(message, hint=hint))


def _site(loaded: LoadedProfile) -> Site:
    from mcu_control.audit import AuditLog
    from mcu_control.paths import audit_path
    from mcu_control.site import Site

    return Site(loaded, audit=AuditLog(audit_path()), actor="cli")


def _orchestrator(site: Site) -> Orchestrator:
    from mcu_control.orchestrator import Orchestrator
    from mcu_control.paths import state_dir

    return Orchestrator(site, state_dir=state_dir())
