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
from dataclasses import dataclass, field
from typing import Any, Literal

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
from mcu_control.results import BringupReport, CheckResult, LinkBringup, PointBringup, Verdict
from mcu_control.site import Site, mcu_unanswered, secondary_limit_s
from mcu_control.state import LinkPhase, PointPhase, SessionLink, SessionPhase, SessionState
from mcu_control.status import bare_address
from mcu_control.watcher import ParticipantWatcher
from profiles.camera import CameraConfig
from profiles.mcu import McuConfig, cascade_dial_string
from profiles.naming import UPSTREAM_PARTICIPANT, cascade_name, name_limit, participant_name
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

    The roster is placed on the site's MCUs (mcu_control/capacity.py): the host dials its
    share; each secondary MCU that takes points gets its own session conference, dials its
    share and is joined to the host's conference by a cascade link (the host dials the
    secondary's conference). `national`: the host also brings up the national link (profile
    `upstream`). A secondary that does not answer fails only its points and its link.

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
    split = split_for_bringup(site, points, national=national)  # never more than ports take
    targets = site.points(split.dial) if split.dial else []
    by_id = {p.id: p for p in targets}
    dialled = {
        p.id: PointBringup(
            p.id,
            p.name,
            has_microphones=p.mixer is not None and bool(p.mixer.session_channels),
        )
        for p in targets
    }
    # roster order within each MCU, host first: what the report and the panels list
    report.points = [*(dialled[pid] for pid in split.dial), *split.refused]
    if split.cascades:
        report.placement = {m: split.on(m) for m in [split.host, *split.cascades]}
    report.links = _planned_links(site, split.cascades, national)
    store = site.store
    prev = store.session
    store.set_session(
        dataclasses.replace(
            prev,
            phase=SessionPhase.BRINGUP,
            national=national and profile.upstream is not None,
            links=tuple(_session_link(lnk, LinkPhase.PLANNED) for lnk in report.links),
        )
    )
    site.emit(
        "bringup-started",
        audit="bringup.start",
        target=conf.name,
        points=[p.id for p in targets],
        **({"mcus": report.placement} if report.placement else {}),
        **({"links": [lnk.id for lnk in report.links]} if report.links else {}),
    )
    if split.refused:
        refused = {r.point: r.reason for r in split.refused}
        log.warning("bring-up: not dialling %s", ", ".join(refused))
        site.record("bringup.not-dialled", target=conf.name, points=refused)
        store.event("points-not-dialled", points=list(refused))
    started = time.perf_counter()
    # the secondaries' conferences are made while the host's is: neither waits on the other
    secondaries = {
        m: asyncio.create_task(_open_secondary(site, site.mcu_config(m)), name=f"mcu:{m}")
        for m in split.cascades
    }
    try:
        host = await _open_host(site, report)
    except BaseException:
        for task in secondaries.values():
            task.cancel()
        await asyncio.gather(*secondaries.values(), return_exceptions=True)
        raise
    sides: list[_Side] = [host]
    try:
        assert host.mcu is not None
        assert host.watcher is not None
        recording = asyncio.create_task(
            _recording(site, host.mcu, host.watcher, host.existing, report), name="recording"
        )
        try:
            notify = _Notify(on_event)
            links = {lnk.id: lnk for lnk in report.links}

            async def on_mcu(mcu_id: str) -> None:
                side = await secondaries[mcu_id]
                sides.append(side)
                cascade = links[cascade_name(mcu_id, name_limit(profile.mcu.driver))]
                cascade.mcu_ready_s = time.perf_counter() - started
                await asyncio.gather(
                    _cascade(site, host, side, cascade),
                    *(
                        _point(site, side, by_id[pid], dialled[pid], notify)
                        for pid in split.on(mcu_id)
                    ),
                )
                _cascade_verdict(site, side, cascade, [dialled[pid] for pid in split.on(mcu_id)])

            work: list[Awaitable[object]] = [
                _point(site, host, by_id[pid], dialled[pid], notify) for pid in split.on(host.id)
            ]
            work += [on_mcu(m) for m in split.cascades]
            if national and profile.upstream is not None:
                work.append(_upstream(site, host, links[UPSTREAM_PARTICIPANT]))
            await asyncio.gather(*work)
        except BaseException:
            recording.cancel()  # interrupted: nothing starts after the signal
            for task in secondaries.values():
                task.cancel()
            await asyncio.gather(recording, *secondaries.values(), return_exceptions=True)
            raise
        report.recording, report.recording_reason = await recording
    finally:
        for side in sides:
            if side.watcher is not None:
                await side.watcher.close()
        report.finished_at = dt.datetime.now(dt.UTC)
    phase = SessionPhase.IN_SESSION if report.connected else SessionPhase.IDLE
    store.set_session(dataclasses.replace(store.session, phase=phase, recording=report.recording))
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
        **({"links": {lnk.id: lnk.verdict.value for lnk in report.links}} if report.links else {}),
    )
    return report


@dataclass(eq=False)
class _Side:
    """One MCU of the session as the bring-up uses it: its conference, watcher, what it had."""

    cfg: McuConfig
    mcu: Mcu | None = None  # None: not opened (`error` says why)
    watcher: ParticipantWatcher | None = None
    existing: dict[str, Participant] = field(default_factory=dict)
    error: str = ""  # why this MCU cannot take its points (a secondary that did not answer)

    @property
    def id(self) -> str:
        return self.cfg.id

    @property
    def conference(self) -> str:
        return self.cfg.conference.name

    def name(self, point_id: str) -> str:
        """A point's participant name on this MCU."""
        return participant_name(point_id, name_limit(self.cfg.driver))


def _conference(site: Site, cfg: McuConfig) -> ConferenceSpec:
    conf = cfg.conference
    pin = conf.pin.resolve(base_dir=site.loaded.path.parent).reveal() if conf.pin else None
    return ConferenceSpec(conf.name, conf.numeric_id, pin, conf.duration_min * 60 or None)


async def _open_host(site: Site, report: BringupReport) -> _Side:
    """The host MCU with its session conference (a failure here fails the whole bring-up)."""
    mcu = await site.mcu()
    side = _Side(site.profile.mcu, mcu)
    report.conference_created = await ensure_conference(mcu, _conference(site, side.cfg))
    side.existing = {p.name: p for p in await mcu.participants(side.conference)}
    side.watcher = ParticipantWatcher(mcu, side.conference, site.profile.bringup.poll_interval_s)
    return side


async def _open_secondary(site: Site, cfg: McuConfig) -> _Side:
    """A secondary MCU with its session conference; on failure a side whose `error` says why.

    Bounded (3 × the MCU's own timeout: connect, list, create), so a dead secondary costs
    its points that long and no more, and never stalls the host's points.
    """
    side = _Side(cfg)
    limit_s = secondary_limit_s(cfg)
    try:
        async with asyncio.timeout(limit_s):
            mcu = await site.mcu(cfg.id)
            await ensure_conference(mcu, _conference(site, cfg))
            side.existing = {p.name: p for p in await mcu.participants(side.conference)}
    except (McuControlError, TimeoutError, OSError) as exc:
        side.error = mcu_unanswered(cfg, exc, limit_s)
        log.warning("bring-up: %s", side.error)
        site.emit(
            "mcu-failed", audit="bringup.mcu_failed", target=cfg.id, mcu=cfg.id, reason=side.error
        )
        return side
    side.mcu = mcu
    side.watcher = ParticipantWatcher(mcu, side.conference, site.profile.bringup.poll_interval_s)
    return side


def _planned_links(site: Site, cascades: list[str], national: bool) -> list[LinkBringup]:
    from mcu_control.roster import session_links

    return [
        LinkBringup(lnk.id, lnk.kind, lnk.name, mcu=lnk.mcu)
        for lnk in session_links(site.profile, cascades, national=national)
    ]


def _session_link(link: LinkBringup, phase: LinkPhase) -> SessionLink:
    kind: Literal["upstream", "cascade"] = "upstream" if link.kind == "upstream" else "cascade"
    return SessionLink(link.id, kind, link.name, phase, link.reason, link.mcu)


def _link_phase(site: Site, link: LinkBringup, phase: LinkPhase) -> None:
    """Publish where `link` stands (the session's `links` on the feed and the panels)."""
    store = site.store
    links = tuple(
        _session_link(link, phase) if lnk.id == link.id else lnk for lnk in store.session.links
    )
    if all(lnk.id != link.id for lnk in links):
        links = (*links, _session_link(link, phase))
    store.set_session(dataclasses.replace(store.session, links=links))


async def _cascade(site: Site, host: _Side, side: _Side, link: LinkBringup) -> None:
    """Join the secondary's conference to the host's: the host dials it like a point."""
    started = time.perf_counter()
    address = cascade_dial_string(side.cfg)
    link.address = address
    try:
        if side.error or address is None:
            link.reason = side.error or f"MCU {side.id} has no dial string (conference numeric_id)"
            return
        protocol = CallProtocol.H323 if address.startswith("h323:") else CallProtocol.SIP
        _link_phase(site, link, LinkPhase.CONNECTING)
        bitrate = site.profile.central.codec.bitrate_kbps
        await _dial(
            site, host, link.id, [(protocol, address)], bitrate, host.existing.get(link.id), link
        )
    finally:
        link.connect_s = time.perf_counter() - started
        _link_done(site, link)


async def _upstream(site: Site, host: _Side, link: LinkBringup) -> None:
    """The national link: the host dials the national office, or waits for its call."""
    up = site.profile.upstream
    assert up is not None
    started = time.perf_counter()
    link.address = up.address
    _link_phase(site, link, LinkPhase.CONNECTING)
    try:
        if up.dials == "host":
            protocol = CallProtocol(up.protocol)
            existing = host.existing.get(link.id)
            await _dial(
                site, host, link.id, [(protocol, up.address)], up.bandwidth_kbps, existing, link
            )
        else:
            await _await_dial_in(site, host, up.address, link)
    finally:
        link.connect_s = time.perf_counter() - started
        _link_done(site, link)


async def _await_dial_in(site: Site, host: _Side, address: str, link: LinkBringup) -> None:
    """`dials: national`: wait (bounded) until a connected participant shows `address`."""
    cfg = site.profile.bringup
    loop = asyncio.get_running_loop()
    deadline = loop.time() + cfg.connect_timeout_s
    want = bare_address(address)
    assert host.mcu is not None
    while True:
        try:
            found = [
                p
                for p in await host.mcu.participants(host.conference)
                if p.call_state is CallState.CONNECTED and bare_address(p.address or "") == want
            ]
        except McuControlError as exc:
            link.reason = str(exc)
            found = []
        if found:
            link.connected, link.reason = True, ""
            return
        if loop.time() >= deadline:
            link.reason = (
                f"the national office did not call in within {cfg.connect_timeout_s:g} s "
                f"(expected from {address}); call it to dial {host.conference}"
            )
            return
        await asyncio.sleep(max(cfg.poll_interval_s, 1.0))


def _link_done(site: Site, link: LinkBringup) -> None:
    _link_phase(site, link, LinkPhase.CONNECTED if link.connected else LinkPhase.FAILED)
    outcome = "connected" if link.connected else "failed"
    detail = {"address": link.address} if link.connected else {"reason": link.reason}
    site.emit(
        f"link-{outcome}",
        audit=f"bringup.link_{outcome}",
        target=link.id,
        link=link.id,
        link_kind=link.kind,
        **detail,
    )


def _cascade_verdict(
    site: Site, side: _Side, link: LinkBringup, results: list[PointBringup]
) -> None:
    """A point connected to a secondary whose link is down is not in the session: FAIL it."""
    if link.connected or side.error:
        return
    for result in results:
        if result.connected:
            result.connected = False
            result.reason = (
                f"connected to MCU {side.id}, but that MCU's cascade link to the host is down "
                f"({link.reason}): not in the session"
            )
            site.store.update_point(result.point, phase=PointPhase.DEGRADED, reason=result.reason)


async def teardown(site: Site, *, points: list[str] | None = None) -> dict[str, Any]:
    """Stop the recording, hang up and remove participants, mute the session microphones.

    On a site with several MCUs the points are hung up on whichever MCU holds them (each
    secondary bounded by its own timeout; one that does not answer is reported, not waited
    for), and a whole-session teardown removes the cascade and national links last.
    """
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

    async def hang_up(on: Mcu, conference: str, name: str) -> tuple[str, str]:
        try:
            await on.disconnect_participant(conference, name)
            await on.remove_participant(conference, name)
        except McuControlError as exc:
            return name, str(exc)
        return name, "removed"

    async def secondary(cfg: McuConfig) -> tuple[str, list[tuple[str, str]]]:
        """Hang up our points on a secondary MCU; (mcu id, [(name, outcome)]) or its error."""
        side = _Side(cfg)
        limit_s = secondary_limit_s(cfg)
        try:
            async with asyncio.timeout(limit_s):
                on = await site.mcu(cfg.id)
                there = {p.name for p in await on.participants(side.conference)}
                mine = [side.name(p.id) for p in targets if side.name(p.id) in there]
                return cfg.id, list(
                    await asyncio.gather(*(hang_up(on, side.conference, n) for n in mine))
                )
        except (McuControlError, TimeoutError, OSError) as exc:
            return cfg.id, [(f"MCU {cfg.id}", f"not reached: {mcu_unanswered(cfg, exc, limit_s)}")]

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
    hung_host, hung_secondaries, muted = await asyncio.gather(
        asyncio.gather(*(hang_up(mcu, conf, n) for n in names)),
        asyncio.gather(*(secondary(cfg) for cfg in profile.mcus)),
        asyncio.gather(*(mute(p) for p in targets)),
    )
    hung = list(hung_host) + [item for _, items in hung_secondaries for item in items]
    if points is None:  # the links last: every point was still in the session until now
        limit = name_limit(profile.mcu.driver)
        links = [cascade_name(m.id, limit) for m in profile.mcus] + [UPSTREAM_PARTICIPANT]
        hung += await asyncio.gather(*(hang_up(mcu, conf, n) for n in links if n in present))
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
    side: _Side,
    point: PointConfig,
    result: PointBringup,
    notify: _Notify,
) -> PointBringup:
    started = time.perf_counter()

    async def timed_connect() -> None:
        try:
            await _connect(site, side, point, result)
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


async def _connect(site: Site, side: _Side, point: PointConfig, result: PointBringup) -> None:
    store = site.store
    name = side.name(point.id)
    codec = point.codec
    addresses = [(CallProtocol(codec.driver), codec.address)]
    addresses += [(CallProtocol(a.protocol), a.address) for a in codec.alternates]

    def trying(index: int, address: str) -> None:
        store.update_point(
            point.id, phase=PointPhase.CONNECTING, call_state="proceeding", reason=""
        )
        if index > 0:
            site.emit(
                "point-escalated",
                audit="bringup.escalate",
                target=point.id,
                point=point.id,
                address=address,
                protocol=addresses[index][0].value,
                after=result.reason,
            )

    def waiting(state: CallState) -> None:
        store.update_point(point.id, phase=PointPhase.CONNECTING, call_state=state.value)

    if side.error:
        result.reason = side.error
    else:
        p = await _dial(
            site,
            side,
            name,
            addresses,
            codec.bitrate_kbps,
            side.existing.get(name),
            result,
            trying=trying,
            waiting=waiting,
        )
        if p is not None:
            _mark_connected(site, point, p)
            return
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
        **({"mcu": side.id} if side.id != site.profile.mcu.id else {}),
    )


async def _dial(
    site: Site,
    side: _Side,
    name: str,
    addresses: list[tuple[CallProtocol, str]],
    bitrate_kbps: int | None,
    existing: Participant | None,
    out: PointBringup | LinkBringup,
    *,
    trying: Callable[[int, str], None] | None = None,
    waiting: Callable[[CallState], None] | None = None,
) -> Participant | None:
    """Get participant `name` connected on `side`'s conference; its participant, or None.

    Adopts a connected participant, waits on a call in progress, else dials each address in
    turn (`dial_attempts` each, with backoff; a permanent refusal moves to the next address).
    `out` gets the attempts, the address and the reason; `trying(index, address)` hears each
    attempt, `waiting(state)` a call in progress found on the MCU.
    """
    cfg = site.profile.bringup
    mcu, watcher, conf = side.mcu, side.watcher, side.conference
    assert mcu is not None
    assert watcher is not None
    if existing is not None:
        out.address = existing.address
        if existing.call_state is CallState.CONNECTED:
            out.connected = out.adopted = True
            return existing
        if existing.call_state in IN_PROGRESS:
            if waiting is not None:
                waiting(existing.call_state)
            try:
                p: Participant | None = await watcher.wait_settled(name, cfg.connect_timeout_s)
            except McuControlError as exc:
                p = None
                out.reason = str(exc)
            if p is not None and p.call_state is CallState.CONNECTED:
                out.connected = out.adopted = True
                return p
        await _remove_quietly(mcu, conf, name)

    delay = cfg.retry_backoff_s
    for index, (protocol, address) in enumerate(addresses):
        for _ in range(cfg.dial_attempts):
            out.attempts += 1
            out.address = address
            if trying is not None:
                trying(index, address)
            try:
                await mcu.add_participant(
                    conf, ParticipantSpec(name, address, protocol, bitrate_kbps)
                )
                p = await watcher.wait_settled(name, cfg.connect_timeout_s)
            except McuControlError as exc:
                out.reason = str(exc)
                if not exc.retryable:  # a permanent refusal: dialling again cannot help
                    log.info("%s: %s refused for good: %s", name, address, exc)
                    await _remove_quietly(mcu, conf, name)
                    break
            else:
                if p.call_state is CallState.CONNECTED:
                    out.connected = True
                    out.reason = ""
                    return p
                out.reason = p.disconnect_reason or "disconnected"
            log.info("%s: attempt %d to %s failed: %s", name, out.attempts, address, out.reason)
            await _remove_quietly(mcu, conf, name)
            await asyncio.sleep(delay)
            delay = min(delay * 2 or cfg.retry_backoff_s, cfg.retry_backoff_max_s)
    return None


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
    """A point's participant name on the host MCU."""
    return participant_name(point_id, name_limit(site.profile.mcu.driver))


async def _remove_quietly(mcu: Mcu, conference: str, name: str) -> None:
    try:
        await mcu.remove_participant(conference, name)
    except McuControlError as exc:
        log.debug("remove %s from %s: %s", name, conference, exc)
