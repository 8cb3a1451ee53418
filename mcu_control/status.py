"""Point status: what a panel shows, derived from the call and the devices' health."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from devices.errors import McuControlError
from devices.health import Health, HealthState
from devices.interfaces import CallState, Participant
from mcu_control.site import Site
from mcu_control.state import DeviceState, LinkPhase, PointPhase, SessionPhase
from profiles.camera import CameraConfig
from profiles.naming import name_limit, participant_name
from profiles.schema import PointConfig

CONNECTING = frozenset(
    {CallState.DORMANT, CallState.PROCEEDING, CallState.ALERTING, CallState.PENDING}
)


def derive_phase(call: Participant | None, devices: list[DeviceState]) -> tuple[PointPhase, str]:
    """The panel state of a point from its call (if any) and its devices' health."""
    codec_down = any(d.kind == "codec" and d.health is HealthState.DOWN for d in devices)
    unwell = [d for d in devices if d.health in (HealthState.DOWN, HealthState.DEGRADED)]
    reason = "; ".join(f"{d.name}: {d.reason or d.health.value}" for d in unwell)
    if call is not None:
        if call.call_state is CallState.CONNECTED:
            if call.packet_loss_critical or call.packet_loss_warning or unwell:
                why = (
                    "packet loss"
                    if call.packet_loss_warning or call.packet_loss_critical
                    else reason
                )
                return PointPhase.DEGRADED, why
            return PointPhase.IN_SESSION, ""
        if call.call_state in CONNECTING:
            return PointPhase.CONNECTING, ""
        if call.call_state is CallState.DISCONNECTED:
            return PointPhase.OFFLINE, call.disconnect_reason or "disconnected"
    if codec_down:
        return PointPhase.OFFLINE, reason
    if unwell:
        return PointPhase.DEGRADED, reason
    if devices and all(d.health is HealthState.UNKNOWN for d in devices):
        return PointPhase.UNKNOWN, ""
    return PointPhase.READY, ""


Reader = Callable[[], Awaitable[Health]]


async def poll(site: Site, *, timeout_s: float = 5.0) -> dict[str, Any]:
    """Ask every device once (concurrently, each within `timeout_s`) and update the store."""
    readers = device_readers(site)
    calls = asyncio.create_task(read_calls(site, timeout_s))
    await asyncio.gather(
        *(read_device(site, dev, read, timeout_s) for dev, read in readers.items())
    )
    apply_calls(site, *await calls)
    return site.store.snapshot()


async def read_device(site: Site, device_id: str, read: Reader, timeout_s: float) -> bool:
    """One health read into the store; a failure is reported to the connections' owner.

    True if it answered. The owner decides what a failure means for the connection
    (mcu_control/connections.py): the reader never closes nor rebuilds a device.
    """
    try:
        async with asyncio.timeout(timeout_s):
            h = await read()
    except McuControlError as exc:
        site.store.update_device(
            device_id,
            health=HealthState.DOWN,
            connected=False,
            reason=str(exc),
            error_kind=exc.kind,
        )
        await site.connections.failed(device_id, exc)
        return False
    except TimeoutError:
        site.store.update_device(
            device_id,
            health=HealthState.DOWN,
            connected=False,
            reason=f"{device_id}: no answer within {timeout_s:g} s — check its power and network",
            error_kind="timeout",
        )
        await site.connections.failed(device_id, TimeoutError())
        return False
    site.store.update_device(
        device_id,
        health=h.state,
        connected=h.state is not HealthState.DOWN,
        reason=h.reason,
        details=dict(h.details),
        error_kind=None,
    )
    if h.state is HealthState.DOWN:
        await site.connections.failed(device_id)
        return False
    await site.connections.ok(device_id)
    return True


def device_readers(site: Site) -> dict[str, Reader]:
    """A health reader per device id of the site."""
    readers: dict[str, Reader] = {}
    for point in site.profile.points:
        readers[f"{point.id}.{point.codec.id}"] = partial(_codec_health, site, point)
        for cam in point.cameras:
            readers[f"{point.id}.{cam.id}"] = partial(_camera_health, site, point, cam)
        if point.mixer is not None:
            readers[f"{point.id}.{point.mixer.id}"] = partial(_mixer_health, site, point)
        if point.mcu is not None:
            readers[f"{point.id}.{point.mcu.id}"] = partial(_mcu_health, site, None)
            for secondary in site.profile.mcus:  # the site's further MCUs, kept by the centre
                readers[f"{point.id}.{secondary.id}"] = partial(_mcu_health, site, secondary.id)
        if point.recorder is not None:
            readers[f"{point.id}.{point.recorder.id}"] = partial(_recorder_health, site)
    return readers


async def read_calls(site: Site, timeout_s: float) -> tuple[dict[str, Participant] | None, str]:
    """(participants of the session conference by name — empty: no conference yet, "").

    (None, why) when the MCU cannot say (down, silent, garbage); `why` names the MCU.
    """
    central = site.profile.central
    mcu_id = f"{central.id}.{site.profile.mcu.id}"
    try:
        async with asyncio.timeout(timeout_s):
            calls = await _conference_calls(site, None)
    except McuControlError as exc:
        return None, str(exc)
    except TimeoutError:
        return None, f"{mcu_id}: no answer within {timeout_s:g} s"
    if site.profile.mcus:  # points placed on a secondary MCU are in its own conference
        found = await asyncio.gather(
            *(_secondary_calls(site, m.id, timeout_s) for m in site.profile.mcus)
        )
        for more in found:
            for name, p in more.items():
                if name not in calls or calls[name].call_state is not CallState.CONNECTED:
                    calls[name] = p
    return calls, ""


async def _conference_calls(site: Site, mcu_id: str | None) -> dict[str, Participant]:
    """The participants of the session conference on the host (None) or a secondary."""
    mcu = await site.mcu(mcu_id)
    conf = site.mcu_config(mcu_id).conference.name
    if conf not in {c.name for c in await mcu.conferences()}:
        return {}
    return {p.name: p for p in await mcu.participants(conf)}


async def _secondary_calls(site: Site, mcu_id: str, timeout_s: float) -> dict[str, Participant]:
    """A secondary's calls; {} when it cannot say (its own health read reports it down)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _conference_calls(site, mcu_id)
    except (McuControlError, TimeoutError):
        return {}


def apply_calls(
    site: Site, participants: dict[str, Participant] | None, unknown_reason: str = ""
) -> None:
    """Derive and store every point's phase from its call and its devices.

    `participants` None (the MCU cannot say, `unknown_reason` why): a point whose codec is
    down is offline, every other point `unknown` — never `ready`, which would claim it left
    the call.
    """
    by_point: dict[str, list[DeviceState]] = {}
    for d in site.store.devices.values():  # one pass: this runs every few seconds
        by_point.setdefault(d.point, []).append(d)
    for point in site.profile.points:
        devs = by_point.get(point.id, [])
        if participants is None:
            phase, reason = derive_phase(None, devs)
            if phase is not PointPhase.OFFLINE:
                phase = PointPhase.UNKNOWN
                reason = f"call state unknown: {unknown_reason or 'the MCU does not answer'}"
            site.store.update_point(point.id, phase=phase, reason=reason)
            continue
        call = participants.get(participant_name(point.id, name_limit(site.profile.mcu.driver)))
        phase, reason = derive_phase(call, devs)
        changes: dict[str, Any] = {
            "phase": phase,
            "reason": reason,
            "call_state": call.call_state.value if call else None,
            "packet_loss_pct": round(100 * call.media.rx_loss_ratio, 2) if call else None,
        }
        # an MCU that records itself has no recorder participant: the bring-up read its status
        if (
            point.role == "central"
            and point.recorder is not None
            and not site.profile.mcu.records_itself
        ):
            rec = participants.get(point.recorder.id)
            connected = rec is not None and rec.call_state is CallState.CONNECTED
            changes["recording"] = connected and site.store.recording_alert is None
        site.store.update_point(point.id, **changes)
    if participants is not None:
        _apply_links(site, participants)


def _apply_links(site: Site, participants: dict[str, Participant]) -> None:
    """In session, each link's phase follows its call on the host: a dropped national or
    cascade link shows on the panels (the bring-up sets them while it runs)."""
    session = site.store.session
    if session.phase is not SessionPhase.IN_SESSION or not session.links:
        return
    upstream = site.profile.upstream
    links = []
    for link in session.links:
        call = participants.get(link.id)
        if call is None and link.kind == "upstream" and upstream is not None:
            want = bare_address(upstream.address)  # `dials: national`: their call, found by address
            call = next(
                (p for p in participants.values() if bare_address(p.address or "") == want), None
            )
        if call is not None and call.call_state is CallState.CONNECTED:
            links.append(dataclasses.replace(link, phase=LinkPhase.CONNECTED, reason=""))
        elif link.phase is LinkPhase.CONNECTED:  # it was up and is not any more
            why = (call.disconnect_reason if call else "") or "not in the conference any more"
            links.append(dataclasses.replace(link, phase=LinkPhase.FAILED, reason=why))
        else:
            links.append(link)
    site.store.set_session(dataclasses.replace(session, links=tuple(links)))


def bare_address(address: str) -> str:
    """An address without its scheme and parameters, lowercased: how two spellings compare."""
    scheme, _, rest = address.partition(":")
    rest = rest if scheme in ("sip", "sips", "h323") and rest else address
    return rest.split(";", 1)[0].lower()


async def _codec_health(site: Site, point: PointConfig) -> Health:
    r = await (await site.codec(point)).ping()
    if r.reachable:
        return Health.ok(r.detail, rtt_ms=r.rtt_ms)
    return Health.down(r.detail)


async def _recorder_health(site: Site) -> Health:
    r = await (await site.recorder_probe()).ping()
    return Health.ok(r.detail, rtt_ms=r.rtt_ms) if r.reachable else Health.down(r.detail)


async def _camera_health(site: Site, point: PointConfig, cam: CameraConfig) -> Health:
    """Health plus the camera's position, so a reconnect re-reads the full state."""
    camera = await site.camera(point, cam)
    h = await camera.health()
    if h.state is HealthState.DOWN or "moving" in h.details:  # ONVIF's health carries it
        return h
    status = await camera.status()
    details: dict[str, str | int | float | bool | None] = dict(h.details)
    details["moving"] = status.moving
    if status.position is not None:
        details |= {
            "pan": status.position.pan,
            "tilt": status.position.tilt,
            "zoom": status.position.zoom,
        }
    return Health(h.state, h.reason, h.checked_at, details)


async def _mixer_health(site: Site, point: PointConfig) -> Health:
    """Health plus the session microphones' mute state (what a panel and bring-up care about)."""
    mixer = await site.mixer(point)
    h = await mixer.health()
    cfg = point.mixer
    if h.state is HealthState.DOWN or cfg is None or not cfg.session_channels:
        return h
    details: dict[str, str | int | float | bool | None] = dict(h.details)
    for state in await mixer.channel_states(cfg.session_channels):
        details[f"{state.channel}.muted"] = state.muted
    return Health(h.state, h.reason, h.checked_at, details)


async def _mcu_health(site: Site, mcu_id: str | None) -> Health:
    return await (await site.mcu(mcu_id)).health()
