"""The pre-session drill (kiểm thử): every check of every point, concurrently.

Each check runs under its own deadline and turns every failure into a FAIL with the
device's own message, so one dead device costs its timeout and nothing more.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from devices.errors import AlreadyExistsError, McuControlError, NotFoundError
from devices.health import HealthState
from devices.interfaces import (
    CallProtocol,
    CallState,
    ConferenceSpec,
    Mcu,
    MediaStats,
    ParticipantSpec,
)
from mcu_control.capacity import split_for_bringup
from mcu_control.results import CheckResult, DrillReport, PointResult, Verdict
from mcu_control.site import Site, mcu_unanswered
from mcu_control.state import SessionPhase
from mcu_control.watcher import ParticipantWatcher
from profiles.camera import CameraConfig
from profiles.mcu import McuConfig, cascade_dial_string
from profiles.naming import DRILL_PREFIX, UPSTREAM_PARTICIPANT, cascade_name, drill_name, name_limit
from profiles.schema import PointConfig

log = logging.getLogger("mcu_control.drill")

Progress = Callable[[CheckResult], None]
Outcome = tuple[Verdict, str, dict[str, Any]]


class Drill:
    """One run of the drill over some or all points of a site."""

    def __init__(
        self,
        site: Site,
        *,
        points: list[str] | None = None,
        quick: bool = False,
        label: str = "manual",
        progress: Progress | None = None,
        national: bool = False,
    ) -> None:
        self.site = site
        self.cfg = site.profile.drill
        self.points = site.points(points)
        self.quick = quick
        self.label = label
        self.progress = progress
        self.split = split_for_bringup(site, points, national=national)  # as the bring-up
        self.national = national and site.profile.upstream is not None
        #: every MCU the roster is placed on: the host first, then the cascaded secondaries
        self.sides = {
            m: _DrillSide(site.mcu_config(m), self.cfg.conference)
            for m in [self.split.host, *self.split.cascades]
        }
        self.host = self.sides[self.split.host]
        self.conference = self.host.conference
        #: points the bring-up would not dial (MCU capacity): their test call FAILs with the
        #: bring-up's reason, so that a drill that passes predicts the bring-up
        self._not_dialled = {p.point: p.reason for p in self.split.refused}

    def planned_checks(self) -> int:
        """How many checks the run will report (for a progress bar): the same plan it runs."""
        return sum(len(self._plan(p)) for p in self.points)

    async def run(self) -> DrillReport:
        report = DrillReport(
            id=_new_id(self.site.profile.site.timezone),
            site=self.site.profile.site.id,
            label=self.label,
            quick=self.quick,
            started_at=dt.datetime.now(dt.UTC),
        )
        store = self.site.store
        previous = store.session
        store.set_session(dataclasses.replace(previous, phase=SessionPhase.DRILL))
        self.site.emit(
            "drill-started",
            audit="drill.start",
            target=self.site.profile.site.id,
            drill=report.id,
            label=self.label,
            points=[p.id for p in self.points],
        )
        try:
            await asyncio.gather(*(self._open(side) for side in self.sides.values()))
            results = await asyncio.gather(*(self._point(p) for p in self.points))
            report.points = list(results)
        finally:
            await asyncio.gather(*(self._close(side) for side in self.sides.values()))
            report.finished_at = dt.datetime.now(dt.UTC)
            store.set_session(previous)
        summary = report.summary()
        store.set_last_drill(summary)
        self.site.emit(
            "drill-finished",
            audit="drill.finish",
            target=self.site.profile.site.id,
            drill=report.id,
            **summary,
        )
        return report

    # ------------------------------------------------------------------ per point

    async def _open(self, side: _DrillSide) -> None:
        """Connect one MCU (bounded); on failure its `error` names it for every check."""
        try:
            side.mcu = await asyncio.wait_for(self.site.mcu(side.cfg.id), self.cfg.check_timeout_s)
        except (McuControlError, TimeoutError) as exc:
            limit_s = self.cfg.check_timeout_s
            if side is self.host:  # the host's own error, as the drill always said it
                side.error = str(exc) or f"no answer within {limit_s:g} s"
            else:
                side.error = mcu_unanswered(side.cfg, exc, limit_s)
            log.warning("drill without MCU %s: %s", side.cfg.id, side.error)
            return
        side.watcher = ParticipantWatcher(
            side.mcu, side.conference, self.site.profile.bringup.poll_interval_s
        )

    async def _close(self, side: _DrillSide) -> None:
        if side.watcher is not None:
            await side.watcher.close()
        if side.mcu is None:
            return
        made = [side.conference] if side.made else []
        for conference in made + side.created_session:
            try:
                async with asyncio.timeout(self.cfg.check_timeout_s):
                    await side.mcu.destroy_conference(conference)
            except NotFoundError:
                pass  # never made (interrupted before the MCU created it)
            except (McuControlError, TimeoutError) as exc:
                log.warning(
                    "could not remove the drill's conference %s on MCU %s: %s",
                    conference,
                    side.cfg.id,
                    exc,
                )

    async def _point(self, point: PointConfig) -> PointResult:
        checks = [
            self._check(point, name, body(), device) for name, body, device in self._plan(point)
        ]
        results = await asyncio.gather(*checks)
        return PointResult(point.id, point.name, list(results))

    def _plan(
        self, point: PointConfig
    ) -> list[tuple[str, Callable[[], Awaitable[Outcome]], str | None]]:
        """The checks of one point as data: (name, body, device id); runs and counts alike."""
        plan: list[tuple[str, Callable[[], Awaitable[Outcome]], str | None]] = [
            ("codec.reachability", partial(self._codec, point), point.codec.id)
        ]
        for cam in point.cameras:
            plan.append(("camera.identity", partial(self._camera_identity, point, cam), cam.id))
            plan.append(("camera.clock", partial(self._camera_clock, point, cam), cam.id))
            if not self.quick:
                plan.append(("camera.preset", partial(self._camera_preset, point, cam), cam.id))
        if point.mixer is not None:
            plan.append(("mixer.health", partial(self._mixer_health, point), point.mixer.id))
            plan.append(("mixer.channels", partial(self._mixer_channels, point), point.mixer.id))
        if point.role == "central":
            plan.append(("mcu.health", partial(self._mcu_health, self.host), self.host.cfg.id))
            rec_id = point.recorder.id if point.recorder else None
            plan.append(("recorder.link", self._recorder, rec_id))
            for m in self.split.cascades:  # each secondary the roster uses, and its link
                side = self.sides[m]
                plan.append(("mcu.health", partial(self._mcu_health, side), m))
                plan.append(("cascade.link", partial(self._cascade_link, side), m))
            if self.national:
                plan.append(("upstream.call", self._upstream_call, UPSTREAM_PARTICIPANT))
        test_call: Callable[[], Awaitable[Outcome]]
        if point.id in self._not_dialled:
            test_call = partial(self._not_placed, self._not_dialled[point.id])
        else:
            side = self.sides[self.split.mcu_of(point.id) or self.split.host]
            test_call = partial(self._test_call, point, side)
        plan.append(("call.test", test_call, point.codec.id))
        return plan

    async def _check(
        self,
        point: PointConfig,
        name: str,
        body: Awaitable[tuple[Verdict, str, dict[str, Any]]],
        device: str | None = None,
    ) -> CheckResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.cfg.check_timeout_s):
                verdict, reason, data = await body
        except McuControlError as exc:
            verdict, reason, data = Verdict.FAIL, str(exc), exc.to_dict()
        except TimeoutError:
            verdict, reason, data = (
                Verdict.FAIL,
                f"no result within {self.cfg.check_timeout_s:.0f} s",
                {},
            )
        result = CheckResult(
            point=point.id,
            check=name,
            verdict=verdict,
            reason=reason,
            device=f"{point.id}.{device}" if device else None,
            duration_s=time.perf_counter() - started,
            data=data,
        )
        if self.progress is not None:
            self.progress(result)
        return result

    # ------------------------------------------------------------------ checks

    async def _codec(self, point: PointConfig) -> tuple[Verdict, str, dict[str, Any]]:
        codec = await self.site.codec(point)
        r = await codec.ping()
        data = {"rtt_ms": r.rtt_ms, "method": r.method, "detail": r.detail}
        self.site.store.update_device(
            f"{point.id}.{point.codec.id}",
            connected=r.reachable,
            health=HealthState.OK if r.reachable else HealthState.DOWN,
            reason=r.detail,
            details={"rtt_ms": r.rtt_ms},
        )
        if not r.reachable:
            return Verdict.FAIL, f"codec {point.codec.address} unreachable: {r.detail}", data
        rtt = f"{r.rtt_ms:.0f} ms" if r.rtt_ms is not None else "reachable"
        return Verdict.PASS, f"{r.method} {rtt} ({r.detail})", data

    async def _camera_identity(
        self, point: PointConfig, cam: CameraConfig
    ) -> tuple[Verdict, str, dict[str, Any]]:
        camera = await self.site.camera(point, cam)
        info = await camera.identify()
        data = {"manufacturer": info.manufacturer, "model": info.model, "firmware": info.firmware}
        return Verdict.PASS, f"{info.manufacturer} {info.model} {info.firmware}".strip(), data

    async def _camera_clock(
        self, point: PointConfig, cam: CameraConfig
    ) -> tuple[Verdict, str, dict[str, Any]]:
        from devices.errors import NotSupportedError

        camera = await self.site.camera(point, cam)
        try:
            reading = await camera.clock()
        except NotSupportedError:
            return Verdict.PASS, "camera has no clock (VISCA)", {}
        offset = reading.offset_s
        data = {"offset_s": round(offset, 1), "device_time": reading.device_time.isoformat()}
        if abs(offset) > self.cfg.clock_warn_s:
            direction = "ahead" if offset > 0 else "behind"
            return (
                Verdict.WARN,
                f"camera clock is {abs(offset):.0f} s {direction} (compensated); enable NTP on the camera",
                data,
            )
        return Verdict.PASS, f"clock offset {offset:+.1f} s", data

    async def _camera_preset(
        self, point: PointConfig, cam: CameraConfig
    ) -> tuple[Verdict, str, dict[str, Any]]:
        from mcu_control.presets import recall, reports_completion

        camera = await self.site.camera(point, cam)
        token = cam.presets[cam.session_preset]
        outcome = await recall(
            camera,
            token,
            timeout_s=self.site.profile.bringup.preset_timeout_s,
            completion=reports_completion(cam.driver),
        )
        data: dict[str, Any] = {"preset": cam.session_preset, **outcome.data}
        if outcome.arrived is False:
            return (
                Verdict.FAIL,
                f"preset “{cam.session_preset}” not reached: {outcome.reason}",
                data,
            )
        if outcome.arrived is None:
            return Verdict.WARN, f"preset “{cam.session_preset}”: {outcome.reason}", data
        self.site.store.update_device(
            f"{point.id}.{cam.id}",
            connected=True,
            health=HealthState.OK,
            details={"preset": cam.session_preset},
        )
        return Verdict.PASS, f"reached preset “{cam.session_preset}” ({outcome.reason})", data

    async def _mixer_health(self, point: PointConfig) -> tuple[Verdict, str, dict[str, Any]]:
        assert point.mixer is not None
        mixer = await self.site.mixer(point)
        h = await mixer.health()
        self.site.store.update_device(
            f"{point.id}.{point.mixer.id}", connected=True, health=h.state, reason=h.reason
        )
        verdict = {HealthState.OK: Verdict.PASS, HealthState.DEGRADED: Verdict.WARN}.get(
            h.state, Verdict.FAIL
        )
        return verdict, h.reason or h.state.value, dict(h.details)

    async def _mixer_channels(self, point: PointConfig) -> tuple[Verdict, str, dict[str, Any]]:
        assert point.mixer is not None
        mixer = await self.site.mixer(point)
        names = point.mixer.session_channels or list(point.mixer.channels)
        states = await mixer.channel_states(names)
        data = {s.channel: {"muted": s.muted, "level_db": s.level_db} for s in states}
        labels = ", ".join(point.mixer.channels[s.channel].label for s in states)
        return Verdict.PASS, f"{len(states)} session channels answer ({labels})", data

    async def _mcu_health(self, side: _DrillSide) -> tuple[Verdict, str, dict[str, Any]]:
        if side.mcu is None:
            return Verdict.FAIL, side.error, {}
        h = await side.mcu.health()
        verdict = {HealthState.OK: Verdict.PASS, HealthState.DEGRADED: Verdict.WARN}.get(
            h.state, Verdict.FAIL
        )
        return verdict, h.reason or h.state.value, dict(h.details)

    async def _recorder(self) -> tuple[Verdict, str, dict[str, Any]]:
        probe = await self.site.recorder_probe()
        r = await probe.ping()
        data = {"rtt_ms": r.rtt_ms, "detail": r.detail}
        if not r.reachable:
            return (
                Verdict.FAIL,
                f"recorder unreachable: {r.detail}; sessions must be recorded centrally",
                data,
            )
        return Verdict.PASS, f"recorder answers ({r.detail})", data

    async def _not_placed(self, reason: str) -> tuple[Verdict, str, dict[str, Any]]:
        return Verdict.FAIL, f"no test call: the bring-up would not dial this point ({reason})", {}

    async def _test_call(
        self, point: PointConfig, side: _DrillSide
    ) -> tuple[Verdict, str, dict[str, Any]]:
        codec = point.codec
        name = drill_name(point.id, name_limit(side.cfg.driver))
        spec = ParticipantSpec(name, codec.address, CallProtocol(codec.driver), codec.bitrate_kbps)
        return await self._call(side, spec, f"test call to {codec.address}")

    async def _cascade_link(self, side: _DrillSide) -> tuple[Verdict, str, dict[str, Any]]:
        """A test call from the host's drill conference to the secondary's session conference.

        It dials the very address the bring-up's cascade link dials; the secondary's session
        conference is created for it if missing (and removed afterwards), so a link that
        passes here is the link the bring-up makes.
        """
        host = self.host
        if side.mcu is None:
            return Verdict.FAIL, f"no cascade link test: {side.error}", {}
        address = cascade_dial_string(side.cfg)
        if address is None:  # the profile check refuses this; a guard, not a verdict source
            return Verdict.FAIL, f"MCU {side.cfg.id} has no dial string", {}
        session = side.cfg.conference
        if await ensure_conference(side.mcu, ConferenceSpec(session.name, session.numeric_id)):
            side.created_session.append(session.name)
        limit = name_limit(host.cfg.driver)
        name = DRILL_PREFIX + cascade_name(side.cfg.id, limit)
        protocol = CallProtocol.H323 if address.startswith("h323:") else CallProtocol.SIP
        spec = ParticipantSpec(
            name, address, protocol, self.site.profile.central.codec.bitrate_kbps
        )
        return await self._call(host, spec, f"cascade link to MCU {side.cfg.id} ({address})")

    async def _upstream_call(self) -> tuple[Verdict, str, dict[str, Any]]:
        """The national link: a test call to the national office (or, when it dials us, the
        evidence of its call)."""
        up = self.site.profile.upstream
        assert up is not None
        if up.dials == "host":
            spec = ParticipantSpec(
                DRILL_PREFIX + UPSTREAM_PARTICIPANT,
                up.address,
                CallProtocol(up.protocol),
                up.bandwidth_kbps,
            )
            return await self._call(self.host, spec, f"national link to {up.address}")
        return (
            Verdict.WARN,
            f"not tested: the national office places this call (upstream dials: national); "
            f"ask it for a test call into {self.site.profile.mcu.conference.name}",
            {"address": up.address},
        )

    async def _call(
        self, side: _DrillSide, spec: ParticipantSpec, what: str
    ) -> tuple[Verdict, str, dict[str, Any]]:
        """Dial `spec` in `side`'s drill conference, measure its media, hang up."""
        if side.mcu is None or side.watcher is None:
            return Verdict.FAIL, f"no test call: {side.error}", {}
        mcu, watcher = side.mcu, side.watcher
        await self._ensure_conference(side)
        name = spec.name
        if name in side.stale:
            await mcu.remove_participant(side.conference, name)
        await mcu.add_participant(side.conference, spec)
        try:
            p = await watcher.wait_settled(name, self.cfg.connect_timeout_s)
            if p.call_state is not CallState.CONNECTED:
                reason = p.disconnect_reason or "call failed"
                return Verdict.FAIL, f"{what} failed: {reason}", {"reason": reason}
            first = p.media
            await asyncio.sleep(
                self.cfg.quick_call_seconds if self.quick else self.cfg.call_seconds
            )
            # the watcher's next poll, not a listing of its own: one listing per point is
            # O(N) pages each, O(N²) for the drill (1000 points: minutes of XML-RPC)
            latest = await watcher.wait_for(name, lambda _p: True, self.cfg.connect_timeout_s)
            return self._judge_loss(first, latest.media, latest.packet_loss_critical)
        finally:
            await _remove_quietly(mcu, side.conference, name)

    def _judge_loss(
        self, first: MediaStats, last: MediaStats, critical: bool
    ) -> tuple[Verdict, str, dict[str, Any]]:
        lost = (last.audio_rx_lost + last.video_rx_lost) - (
            first.audio_rx_lost + first.video_rx_lost
        )
        got = (last.audio_rx_received + last.video_rx_received) - (
            first.audio_rx_received + first.video_rx_received
        )
        total = lost + got
        pct = 100.0 * lost / total if total > 0 else 0.0
        data = {
            "loss_pct": round(pct, 2),
            "packets": total,
            "lost": lost,
            "video_codec": last.video_rx_codec,
            "audio_codec": last.audio_rx_codec,
        }
        if total <= 0:
            return Verdict.WARN, "connected, but no media packets arrived while measuring", data
        if pct > self.cfg.loss_fail_pct or critical:
            return (
                Verdict.FAIL,
                f"packet loss {pct:.1f} % (above {self.cfg.loss_fail_pct:g} %)",
                data,
            )
        if pct > self.cfg.loss_warn_pct:
            return (
                Verdict.WARN,
                f"packet loss {pct:.1f} % (above {self.cfg.loss_warn_pct:g} %)",
                data,
            )
        return Verdict.PASS, f"connected; packet loss {pct:.1f} % over {total} packets", data

    async def _ensure_conference(self, side: _DrillSide) -> None:
        assert side.mcu is not None
        async with side.lock:
            if side.made:
                return
            # set before the request: a drill interrupted while the create is in flight must
            # still remove the conference the MCU may have made (removing none is harmless)
            side.made = True
            if not await ensure_conference(side.mcu, ConferenceSpec(side.conference)):
                side.stale = {p.name for p in await side.mcu.participants(side.conference)}


@dataclass(eq=False)
class _DrillSide:
    """One MCU of the drill: its drill conference, its watcher, what the drill created."""

    cfg: McuConfig
    name_override: str | None = None  # the profile's `drill.conference`, if set
    mcu: Mcu | None = None
    watcher: ParticipantWatcher | None = None
    error: str = ""  # why this MCU cannot be used (it did not answer)
    made: bool = False  # the drill conference exists (created or found) on this MCU
    #: participants the drill conference already had (a drill that died half-way)
    stale: set[str] = field(default_factory=set)
    #: session conferences the cascade test created here (removed at the end)
    created_session: list[str] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def conference(self) -> str:
        return self.name_override or f"{self.cfg.conference.name[:28]}-KT"


async def ensure_conference(mcu: Mcu, spec: ConferenceSpec) -> bool:
    """Create the conference unless it exists; True if this call created it."""
    if spec.name in {c.name for c in await mcu.conferences()}:
        return False
    try:
        await mcu.create_conference(spec)
    except AlreadyExistsError:  # lost a race with another creator: fine
        return False
    return True


async def _remove_quietly(mcu: Mcu, conference: str, name: str) -> None:
    try:
        await mcu.remove_participant(conference, name)
    except McuControlError as exc:
        log.debug("remove %s from %s: %s", name, conference, exc)


def _new_id(timezone: str) -> str:
    """`<site-local date>T<time>-<6 hex>`: the id people read and say is in site time."""
    import zoneinfo

    now = dt.datetime.now(zoneinfo.ZoneInfo(timezone))
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
