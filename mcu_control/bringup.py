"""Bring-up and teardown of a session: everything connected, positioned, unmuted, recording.

Bring-up is idempotent and resumable: it first reads what the MCU already has, keeps
connected participants (adopts them), waits on calls in progress, and only dials what is
missing — so running it twice, or after a restart, adds no duplicate participant.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from devices.errors import McuControlError
from devices.health import HealthState
from devices.interfaces import (
    CallProtocol,
    CallState,
    ConferenceSpec,
    Mcu,
    Participant,
    ParticipantSpec,
)
from mcu_control.capacity import split_for_bringup
from mcu_control.drill import ensure_conference
from mcu_control.results import BringupReport, CheckResult, PointBringup, Verdict
from mcu_control.site import Site
from mcu_control.state import PointPhase, SessionPhase, SessionState
from mcu_control.watcher import ParticipantWatcher
from profiles.camera import CameraConfig
from profiles.naming import name_limit, participant_name
from profiles.schema import PointConfig

log = logging.getLogger("mcu_control.bringup")

#: how long an interrupted bring-up may spend taking back an unconfirmed recording link
CANCEL_CLEANUP_S = 1.0

IN_PROGRESS = frozenset(
    {CallState.DORMANT, CallState.PROCEEDING, CallState.ALERTING, CallState.PENDING}
)


@dataclass(frozen=True, slots=True)
class BringupEvent:
    """One step of one point finished (or, with step "start", the point's bring-up began)."""

    point: str
    step: str  # "start", "call", "camera.preset", "mixer.unmute"
    verdict: str  # "running" (start), "pass", "warn", "fail"
    detail: str = ""
    steps: int = 0  # with "start": how many events follow for this point


#: an optional observer of bring-up progress (the CLI draws it); it must not block
BringupObserver = Callable[[BringupEvent], None]


async def bringup(
    site: Site,
    *,
    points: list[str] | None = None,
    report: BringupReport | None = None,
    on_event: BringupObserver | None = None,
    national: bool = False,
) -> BringupReport:
    """Connect every (or the named) point, presets, microphones and the recording link.

    `report` (optional) is filled as the work goes, so a caller that cancels this coroutine
    can still say how far it got. On cancellation every dial, move, unmute and the recording
    link are cancelled with it; a recording link not yet confirmed is removed. `on_event`
    (optional) hears each point's start and each finished step, as it happens.
    """
    profile = site.profile
    conf = profile.mcu.conference
    if report is None:
        report = BringupReport(
            site=profile.site.id, conference=conf.name, started_at=dt.datetime.now(dt.UTC)
        )
    split = split_for_bringup(site, points)  # never dial more than the MCUs' ports take
    targets = site.points(split.dial) if split.dial else []
    dialled = [
        PointBringup(
            p.id,
            p.name,
            has_microphones=p.mixer is not None and bool(p.mixer.session_channels),
        )
        for p in targets
    ]
    report.points = [*dialled, *split.refused]
    store = site.store
    prev = store.session
    store.set_session(dataclasses.replace(prev, phase=SessionPhase.BRINGUP))
    site.emit(
        "bringup-started", audit="bringup.start", target=conf.name, points=[p.id for p in targets]
    )
    if split.refused:
        refused = {r.point: r.reason for r in split.refused}
        log.warning("bring-up: not dialling %s", ", ".join(refused))
        site.record("bringup.not-dialled", target=conf.name, points=refused)
        store.event("points-not-dialled", points=list(refused))
    mcu = await site.mcu()
    pin = conf.pin.resolve(base_dir=site.loaded.path.parent).reveal() if conf.pin else None
    spec = ConferenceSpec(conf.name, conf.numeric_id, pin, conf.duration_min * 60 or None)
    report.conference_created = await ensure_conference(mcu, spec)
    existing = {p.name: p for p in await mcu.participants(conf.name)}
    watcher = ParticipantWatcher(mcu, conf.name, profile.bringup.poll_interval_s)
    try:
        recording = asyncio.create_task(
            _recording(site, mcu, watcher, existing, report), name="recording"
        )
        try:
            notify = _Notify(on_event)
            await asyncio.gather(
                *(
                    _point(site, mcu, watcher, p, existing.get(_name(site, p.id)), result, notify)
                    for p, result in zip(targets, dialled, strict=True)
                )
            )
        except BaseException:
            recording.cancel()  # interrupted: nothing starts after the signal
            await asyncio.gather(recording, return_exceptions=True)
            raise
        report.recording, report.recording_reason = await recording
    finally:
        await watcher.close()
        report.finished_at = dt.datetime.now(dt.UTC)
    phase = SessionPhase.IN_SESSION if report.connected else SessionPhase.IDLE
    store.set_session(dataclasses.replace(prev, phase=phase, recording=report.recording))
    central = profile.central.id
    store.update_point(central, recording=report.recording)
    site.emit(
        "bringup-finished",
        audit="bringup.finish",
        target=conf.name,
        connected=report.connected,
        total=len(report.points),
        recording=report.recording,
        verdict=report.verdict.value,
    )
    return report


async def teardown(site: Site, *, points: list[str] | None = None) -> dict[str, Any]:
    """Stop the recording, hang up and remove participants, mute the session microphones."""
    profile = site.profile
    conf = profile.mcu.conference.name
    targets = site.points(points)
    site.emit(
        "teardown-started", audit="teardown.start", target=conf, points=[p.id for p in targets]
    )
    mcu = await site.mcu()
    present = {p.name for p in await mcu.participants(conf)}
    rec = profile.central.recorder
    names = [_name(site, p.id) for p in targets if _name(site, p.id) in present]
    if rec is not None and rec.id in present and points is None:
        names.append(rec.id)

    async def hang_up(name: str) -> tuple[str, str]:
        try:
            await mcu.disconnect_participant(conf, name)
            await mcu.remove_participant(conf, name)
        except McuControlError as exc:
            return name, str(exc)
        return name, "removed"

    async def mute(point: PointConfig) -> tuple[str, str]:
        if point.mixer is None or not point.mixer.session_channels:
            return point.id, "no session microphones"
        try:
            mixer = await site.mixer(point)
            for ch in point.mixer.session_channels:
                await mixer.set_mute(ch, True)
        except McuControlError as exc:
            return point.id, str(exc)
        return point.id, "muted"

    stopped: str | None = None
    if profile.mcu.records_itself and points is None:  # the MCU's own recording: stop it first
        try:
            if await mcu.recording_connected(conf, rec.id if rec else ""):
                await mcu.stop_recording(conf)
            stopped = "stopped"
        except McuControlError as exc:
            stopped = str(exc)
    hung = await asyncio.gather(*(hang_up(n) for n in names))
    muted = await asyncio.gather(*(mute(p) for p in targets))
    for p in targets:
        site.store.update_point(
            p.id, phase=PointPhase.READY, call_state=None, reason="session ended"
        )
    if points is None:
        site.store.update_point(profile.central.id, recording=False)
        site.store.set_session(SessionState(SessionPhase.IDLE))
    result: dict[str, Any] = {
        "conference": conf,
        "participants": dict(hung),
        "microphones": dict(muted),
        "ok": all(v == "removed" for _, v in hung)
        and all(v in ("muted", "no session microphones") for _, v in muted)
        and stopped in (None, "stopped"),
    }
    if stopped is not None:
        result["recording"] = stopped
    site.emit("teardown-finished", audit="teardown.finish", target=conf, **result)
    return result


# ---------------------------------------------------------------------- per point


async def _point(
    site: Site,
    mcu: Mcu,
    watcher: ParticipantWatcher,
    point: PointConfig,
    existing: Participant | None,
    result: PointBringup,
    notify: _Notify,
) -> PointBringup:
    started = time.perf_counter()

    async def timed_connect() -> None:
        try:
            await _connect(site, mcu, watcher, point, existing, result)
        finally:
            result.connect_s = time.perf_counter() - started
            verdict = "pass" if result.connected else "fail"
            detail = "adopted" if result.adopted else result.reason or "connected"
            notify(BringupEvent(point.id, "call", verdict, detail))

    async def reported(step: Awaitable[CheckResult]) -> CheckResult:
        done = await step
        notify(BringupEvent(point.id, done.check, done.verdict.value, done.reason))
        return done

    steps = [reported(_preset(site, point, cam)) for cam in point.cameras]
    if point.mixer is not None and point.mixer.session_channels:

        async def unmute() -> CheckResult:
            step = await _unmute(site, point)
            result.unmuted = step.verdict is Verdict.PASS
            return step

        steps.append(reported(unmute()))
    notify(BringupEvent(point.id, "start", "running", steps=len(steps) + 1))
    call = asyncio.create_task(timed_connect(), name=f"dial:{point.id}")
    try:
        result.steps = list(await asyncio.gather(*steps))
    except BaseException:
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
        raise
    await call
    result.duration_s = time.perf_counter() - started
    return result


class _Notify:
    """Calls the observer, if any; an observer's bug is logged, never stops the bring-up."""

    def __init__(self, observer: BringupObserver | None) -> None:
        self.observer = observer

    def __call__(self, event: BringupEvent) -> None:
        if self.observer is None:
            return
        try:
            self.observer(event)
        except Exception:
            log.exception("bring-up progress observer failed on %s", event)


async def _connect(
    site: Site,
    mcu: Mcu,
    watcher: ParticipantWatcher,
    point: PointConfig,
    existing: Participant | None,
    result: PointBringup,
) -> None:
    cfg = site.profile.bringup
    conf = site.profile.mcu.conference.name
    store = site.store
    name = _name(site, point.id)
    codec = point.codec
    addresses = [(CallProtocol(codec.driver), codec.address)]
    addresses += [(CallProtocol(a.protocol), a.address) for a in codec.alternates]

    if existing is not None:
        result.address = existing.address
        if existing.call_state is CallState.CONNECTED:
            result.connected = result.adopted = True
            _mark_connected(site, point, existing)
            return
        if existing.call_state in IN_PROGRESS:
            store.update_point(
                point.id, phase=PointPhase.CONNECTING, call_state=existing.call_state.value
            )
            try:
                p = await watcher.wait_settled(name, cfg.connect_timeout_s)
            except McuControlError as exc:
                p = None
                result.reason = str(exc)
            if p is not None and p.call_state is CallState.CONNECTED:
                result.connected = result.adopted = True
                _mark_connected(site, point, p)
                return
        await _remove_quietly(mcu, conf, name)

    delay = cfg.retry_backoff_s
    for index, (protocol, address) in enumerate(addresses):
        if index > 0:
            site.emit(
                "point-escalated",
                audit="bringup.escalate",
                target=point.id,
                point=point.id,
                address=address,
                protocol=protocol.value,
                after=result.reason,
            )
        for _ in range(cfg.dial_attempts):
            result.attempts += 1
            result.address = address
            store.update_point(
                point.id, phase=PointPhase.CONNECTING, call_state="proceeding", reason=""
            )
            try:
                await mcu.add_participant(
                    conf, ParticipantSpec(name, address, protocol, codec.bitrate_kbps)
                )
                p = await watcher.wait_settled(name, cfg.connect_timeout_s)
            except McuControlError as exc:
                result.reason = str(exc)
                if not exc.retryable:  # a permanent refusal: dialling again cannot help
                    log.info("%s: %s refused for good: %s", point.id, address, exc)
                    await _remove_quietly(mcu, conf, name)
                    break
            else:
                if p.call_state is CallState.CONNECTED:
                    result.connected = True
                    result.reason = ""
                    _mark_connected(site, point, p)
                    return
                result.reason = p.disconnect_reason or "disconnected"
            log.info(
                "%s: attempt %d to %s failed: %s", point.id, result.attempts, address, result.reason
            )
            await _remove_quietly(mcu, conf, name)
            await asyncio.sleep(delay)
            delay = min(delay * 2 or cfg.retry_backoff_s, cfg.retry_backoff_max_s)
    store.update_point(
        point.id, phase=PointPhase.OFFLINE, call_state="disconnected", reason=result.reason
    )
    site.emit(
        "point-failed",
        audit="bringup.point_failed",
        target=point.id,
        point=point.id,
        name=point.name,
        reason=result.reason,
        attempts=result.attempts,
    )


def _mark_connected(site: Site, point: PointConfig, p: Participant) -> None:
    loss = round(100 * p.media.rx_loss_ratio, 2)
    phase = PointPhase.DEGRADED if p.packet_loss_critical else PointPhase.IN_SESSION
    site.store.update_point(
        point.id, phase=phase, call_state="connected", packet_loss_pct=loss, reason=""
    )
    site.store.update_device(
        f"{point.id}.{point.codec.id}",
        connected=True,
        health=HealthState.OK,
        details={"call": "connected"},
    )
    site.emit("point-connected", point=point.id, name=point.name, packet_loss_pct=loss)


async def _preset(site: Site, point: PointConfig, cam: CameraConfig) -> CheckResult:
    from mcu_control.presets import recall, reports_completion

    started = time.perf_counter()
    token = cam.presets[cam.session_preset]
    data: dict[str, Any] = {"preset": cam.session_preset}
    try:
        camera = await site.camera(point, cam)
        outcome = await recall(
            camera,
            token,
            timeout_s=site.profile.bringup.preset_timeout_s,
            completion=reports_completion(cam.driver),
        )
    except (McuControlError, TimeoutError) as exc:
        verdict, reason = Verdict.WARN, f"preset “{cam.session_preset}” not confirmed: {exc}"
    else:
        data.update(outcome.data)
        if outcome.arrived:
            verdict, reason = Verdict.PASS, f"at preset “{cam.session_preset}”"
            site.emit("preset-reached", point=point.id, camera=cam.id, preset=cam.session_preset)
            site.store.update_device(
                f"{point.id}.{cam.id}",
                connected=True,
                health=HealthState.OK,
                details={"preset": cam.session_preset},
            )
        else:
            verdict = Verdict.WARN
            reason = f"preset “{cam.session_preset}” not confirmed: {outcome.reason}"
    return CheckResult(
        point.id,
        "camera.preset",
        verdict,
        reason,
        f"{point.id}.{cam.id}",
        time.perf_counter() - started,
        data,
    )


async def _unmute(site: Site, point: PointConfig) -> CheckResult:
    assert point.mixer is not None
    started = time.perf_counter()
    channels = point.mixer.session_channels
    try:
        mixer = await site.mixer(point)
        for ch in channels:
            await mixer.set_mute(ch, False)
        states = await mixer.channel_states(channels)
    except McuControlError as exc:
        verdict, reason = Verdict.FAIL, f"microphones not unmuted: {exc}"
        data: dict[str, Any] = {}
    else:
        still = [s.channel for s in states if s.muted]
        data = {s.channel: {"muted": s.muted} for s in states}
        if still:
            verdict, reason = Verdict.FAIL, f"still muted after unmute: {', '.join(still)}"
        else:
            labels = ", ".join(point.mixer.channels[c].label for c in channels)
            site.emit("microphones-unmuted", point=point.id, channels=list(channels))
            verdict, reason = Verdict.PASS, f"unmuted: {labels}"
            site.store.update_device(
                f"{point.id}.{point.mixer.id}",
                connected=True,
                health=HealthState.OK,
                details={"unmuted": list(channels)},
            )
    return CheckResult(
        point.id,
        "mixer.unmute",
        verdict,
        reason,
        f"{point.id}.{point.mixer.id}",
        time.perf_counter() - started,
        data,
    )


async def _recording(
    site: Site,
    mcu: Mcu,
    watcher: ParticipantWatcher,
    existing: dict[str, Participant],
    report: BringupReport,
) -> tuple[bool, str]:
    rec = site.profile.central.recorder
    if rec is None:
        return False, "no recorder in the profile"
    if site.profile.mcu.records_itself:
        return await _mcu_recording(site, mcu, report)
    conf = site.profile.mcu.conference.name
    cfg = site.profile.bringup
    current = existing.get(rec.id)
    if current is not None and current.call_state is CallState.CONNECTED:
        report.recording = True
        return True, "recording link already connected"
    spec = ParticipantSpec(rec.id, rec.address, CallProtocol(rec.protocol), rec.bitrate_kbps)
    reason = ""
    for _ in range(cfg.dial_attempts):
        try:
            if current is not None and current.call_state not in IN_PROGRESS:
                await _remove_quietly(mcu, conf, rec.id)
            current = None
            try:
                await mcu.start_recording(conf, spec)
                p = await watcher.wait_settled(rec.id, cfg.connect_timeout_s)
                ok = p.call_state is CallState.CONNECTED and await mcu.recording_connected(
                    conf, rec.id
                )
            except asyncio.CancelledError:
                # interrupted before the link was confirmed: take back the request, so that no
                # recording starts after the signal (bounded: the caller is leaving)
                with contextlib.suppress(TimeoutError, McuControlError):
                    async with asyncio.timeout(CANCEL_CLEANUP_S):
                        await asyncio.shield(_remove_quietly(mcu, conf, rec.id))
                raise
            if ok:
                report.recording = True
                site.emit(
                    "recording-started", audit="recording.start", target=rec.id, address=rec.address
                )
                return True, "recording link connected"
            reason = p.disconnect_reason or "disconnected"
        except McuControlError as exc:
            reason = str(exc)
            if not exc.retryable:
                await _remove_quietly(mcu, conf, rec.id)
                break
        await _remove_quietly(mcu, conf, rec.id)
        await asyncio.sleep(cfg.retry_backoff_s)
    site.emit("recording-failed", audit="recording.failed", target=rec.id, reason=reason)
    return False, f"recording link not connected: {reason}"


async def _mcu_recording(site: Site, mcu: Mcu, report: BringupReport) -> tuple[bool, str]:
    """The MCU records the conference itself: start it, then wait for its recording status.

    "Recording" is reported only when the MCU says so (the conference's recording status),
    never because the start command was accepted.
    """
    rec = site.profile.central.recorder
    assert rec is not None
    conf = site.profile.mcu.conference.name
    cfg = site.profile.bringup
    target = f"{site.profile.central.id}.{site.profile.mcu.id}"
    spec = ParticipantSpec(rec.id, rec.address, CallProtocol(rec.protocol), rec.bitrate_kbps)
    if await mcu.recording_connected(conf, rec.id):
        report.recording = True
        return True, "the MCU is already recording the conference"
    reason = ""
    for _ in range(cfg.dial_attempts):
        try:
            try:
                await mcu.start_recording(conf, spec)
                ok = await _until_recording(mcu, conf, rec.id, cfg.connect_timeout_s)
            except asyncio.CancelledError:
                # interrupted before the MCU confirmed: stop it, so nothing records after the
                # signal (bounded: the caller is leaving)
                with contextlib.suppress(TimeoutError, McuControlError):
                    async with asyncio.timeout(CANCEL_CLEANUP_S):
                        await asyncio.shield(mcu.stop_recording(conf))
                raise
            if ok:
                report.recording = True
                site.emit("recording-started", audit="recording.start", target=target, via="mcu")
                return True, "the MCU reports it is recording the conference"
            reason = f"the MCU did not report recording within {cfg.connect_timeout_s:g} s"
        except McuControlError as exc:
            reason = str(exc)
            if not exc.retryable:  # e.g. recording not enabled on the conference (RMX 30011)
                break
        await asyncio.sleep(cfg.retry_backoff_s)
    site.emit("recording-failed", audit="recording.failed", target=target, reason=reason)
    return False, f"the MCU is not recording: {reason}"


async def _until_recording(mcu: Mcu, conference: str, name: str, timeout_s: float) -> bool:
    """Poll the MCU's recording status until it says recording (True) or `timeout_s` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if await mcu.recording_connected(conference, name):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(min(0.5, max(0.0, deadline - loop.time())))


def _name(site: Site, point_id: str) -> str:
    return participant_name(point_id, name_limit(site.profile.mcu.driver))


async def _remove_quietly(mcu: Mcu, conference: str, name: str) -> None:
    try:
        await mcu.remove_participant(conference, name)
    except McuControlError as exc:
        log.debug("remove %s from %s: %s", name, conference, exc)
