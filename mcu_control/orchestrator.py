"""The application service: every session operation, whoever asks for it.

The CLI, the MQTT command router, the scheduler and the demo all call this one object, so a
drill started from any of them takes the same session lock, writes the same audit records,
is stored in `drills.sqlite`, resolves presets and channels by the same rules, validates
values before any device is touched, and stops the same way when interrupted.

Interruption: when the task running an operation is cancelled (the CLI cancels it on SIGINT or
SIGTERM, the daemon on shutdown or pre-emption), in-flight device requests are cancelled with
it, nothing new is started, an `<operation>.interrupted` audit record says where things stand,
and `interrupted` keeps the same one-line summary for the caller to print.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from devices.errors import ConfigError
from mcu_control.drill import Drill, Progress
from mcu_control.drillstore import save_or_warn
from mcu_control.results import BringupReport, CheckResult, DrillReport
from mcu_control.session_lock import SessionBusyError, SessionLock
from mcu_control.site import Site
from mcu_control.validate import check_number, check_positive, nfc
from profiles.camera import CameraConfig
from profiles.schema import PointConfig, Profile

if TYPE_CHECKING:
    from mcu_control.bringup import BringupObserver

log = logging.getLogger("mcu_control.orchestrator")
T = TypeVar("T")

#: how long the scheduler's own jobs queue behind another session operation
SCHEDULED_LOCK_WAIT_S = 300.0


class Orchestrator:
    """Drill, bring-up, teardown, preset, mute and level for one site, with lock and audit."""

    def __init__(
        self,
        site: Site,
        *,
        state_dir: Path,
        lock_wait_s: float = 0.0,
    ) -> None:
        self.site = site
        self.state_dir = state_dir
        self.lock_wait_s = lock_wait_s
        profile = site.profile
        self.lock = SessionLock(state_dir, profile.site.id, profile.site.timezone)
        #: the one-line summary of the last interrupted operation (None: not interrupted)
        self.interrupted: str | None = None
        #: why the last drill's result could not be stored (None: it was, or no drill yet)
        self.store_warning: str | None = None

    # ------------------------------------------------------------------ session operations

    async def drill(
        self,
        *,
        points: list[str] | None = None,
        quick: bool = False,
        label: str = "manual",
        progress: Progress | None = None,
        national: bool = False,
    ) -> DrillReport:
        """Run the drill under the session lock and store its report.

        `national`: the session joins the national reception office, so the drill also tests
        the upstream link (profile `upstream`).
        """
        ids = self.resolve_points(points)
        done: list[CheckResult] = []

        def tally(result: CheckResult) -> None:
            done.append(result)
            if progress is not None:
                progress(result)

        drill = Drill(
            self.site, points=ids, quick=quick, label=label, progress=tally, national=national
        )
        total = drill.planned_checks()

        def where() -> str:
            return (
                f"interrupted: drill stopped after {len(done)}/{total} checks, no verdict stored, "
                "the test conference removed — run `mcu-control drill` again"
            )

        report = await self._session("drill", drill.run, where, label=label)
        # a result that cannot be stored still gives its verdict (and the warning names the store)
        self.store_warning = save_or_warn(report, self.state_dir)
        return report

    def planned_drill_checks(
        self, *, points: list[str] | None = None, quick: bool = False, national: bool = False
    ) -> int:
        """How many checks a drill of these points will report (for a progress bar)."""
        ids = self.resolve_points(points)
        return Drill(self.site, points=ids, quick=quick, national=national).planned_checks()

    async def bringup(
        self,
        *,
        points: list[str] | None = None,
        on_event: BringupObserver | None = None,
        national: bool = False,
    ) -> BringupReport:
        """Bring the session up under the session lock; `on_event` hears its progress.

        `national`: the session joins the national reception office (profile `upstream`).
        """
        import datetime as dt

        from mcu_control.bringup import bringup

        ids = self.resolve_points(points)
        conf = self.site.profile.mcu.conference.name
        report = BringupReport(
            site=self.site.profile.site.id, conference=conf, started_at=dt.datetime.now(dt.UTC)
        )

        def where() -> str:
            # the store must not say "bringup" for ever: connected points mean a session is on
            from mcu_control.state import SessionPhase

            store = self.site.store
            phase = SessionPhase.IN_SESSION if report.connected else SessionPhase.IDLE
            store.set_session(replace(store.session, phase=phase, recording=report.recording))
            total = len(self.site.points(ids))
            mixers = [p for p in report.points if p.has_microphones]
            unmuted = sum(1 for p in mixers if p.unmuted)
            mics = (
                "microphones muted"
                if unmuted == 0
                else "microphones unmuted"
                if unmuted == len(mixers)
                else f"microphones unmuted at {unmuted}/{len(mixers)} points"
            )
            return (
                f"interrupted: {report.connected}/{total} connected, "
                f"recording {'on' if report.recording else 'off'}, {mics} "
                "— run `mcu-control bringup` again"
            )

        return await self._session(
            "bringup",
            lambda: bringup(
                self.site, points=ids, report=report, on_event=on_event, national=national
            ),
            where,
        )

    async def teardown(self, *, points: list[str] | None = None) -> dict[str, Any]:
        """Tear the session down under the session lock."""
        from mcu_control.bringup import teardown

        ids = self.resolve_points(points)

        def where() -> str:
            return (
                "interrupted: teardown stopped part-way (the recording may still be on) "
                "— run `mcu-control teardown` again"
            )

        return await self._session("teardown", lambda: teardown(self.site, points=ids), where)

    # ------------------------------------------------------------------ device operations

    async def goto_preset(
        self,
        point_id: str,
        camera_id: str | None = None,
        preset: str | None = None,
        *,
        wait: bool = True,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Recall a camera preset (profile name or token) and judge arrival on evidence."""
        from mcu_control.presets import recall, reports_completion

        point, cam, name, token = self.resolve_preset(point_id, camera_id, preset)
        timeout = check_positive(
            "timeout",
            self.site.profile.bringup.preset_timeout_s if timeout_s is None else timeout_s,
        )
        target = f"{point.id}.{cam.id}"
        self.site.record("camera.preset.intent", target=target, preset=name, token=token)
        camera = await self.site.camera(point, cam)
        outcome = await recall(
            camera,
            token,
            timeout_s=timeout,
            completion=reports_completion(cam.driver),
            wait=wait,
        )
        self.site.record(
            "camera.preset",
            target=target,
            preset=name,
            arrived=outcome.arrived,
            reason=outcome.reason,
        )
        moving = outcome.status.moving if outcome.status else None
        return {
            "camera": target,
            "preset": name,
            "token": token,
            "arrived": outcome.arrived,
            "reason": outcome.reason,
            "moving": moving,
            "position": outcome.data.get("position"),
        }

    async def set_mute(self, point_id: str, channel: str, muted: bool) -> dict[str, Any]:
        """Mute or unmute one logical channel of a point's mixer; the reply reads it back."""
        point, channel = self.resolve_channel(point_id, channel)
        assert point.mixer is not None
        target = f"{point.id}.{point.mixer.id}"
        self.site.record("mixer.mute.intent", target=target, channel=channel, muted=muted)
        mixer = await self.site.mixer(point)
        await mixer.set_mute(channel, muted)
        now = await mixer.get_mute(channel)
        self.site.record("mixer.mute", target=target, channel=channel, muted=now)
        return {"mixer": target, "channel": channel, "muted": now}

    async def set_level(self, point_id: str, channel: str, level_db: float) -> dict[str, Any]:
        """Set a channel's level within the model's range (never clamped), then read it back."""
        point, channel = self.resolve_channel(point_id, channel)
        assert point.mixer is not None
        model = self.site.loaded.mixer_model(point.mixer.model)
        check_number(
            f"level for {point.id}.{point.mixer.id} {channel}",
            level_db,
            low=model.level_min_db,
            high=model.level_max_db,
            unit=" dB",
        )
        target = f"{point.id}.{point.mixer.id}"
        self.site.record("mixer.level.intent", target=target, channel=channel, level_db=level_db)
        mixer = await self.site.mixer(point)
        await mixer.set_level(channel, level_db)
        now = await mixer.get_level(channel)
        self.site.record("mixer.level", target=target, channel=channel, level_db=now)
        return {"mixer": target, "channel": channel, "level_db": now}

    # ------------------------------------------------------------------ resolution

    def resolve_points(self, ids: list[str] | None) -> list[str] | None:
        """Point ids as given (NFC), checked against the profile; ConfigError names the known."""
        return resolve_point_ids(self.site.profile, ids)

    def point(self, point_id: str) -> PointConfig:
        (pid,) = self.resolve_points([point_id]) or [point_id]
        return self.site.profile.point(pid)

    def resolve_preset(
        self, point_id: str, camera_id: str | None, preset: str | None
    ) -> tuple[PointConfig, CameraConfig, str, str]:
        """(point, camera, preset name, token): a profile name (NFC) or a token it lists."""
        return resolve_preset(self.point(point_id), camera_id, preset)

    def resolve_channel(self, point_id: str, channel: str) -> tuple[PointConfig, str]:
        point = self.point(point_id)
        if point.mixer is None:
            raise ConfigError(f"point {point.id} has no mixer", hint="pick a point with a mixer")
        return point, resolve_channel(point, channel)

    # ------------------------------------------------------------------ private

    async def _session(
        self,
        operation: str,
        work: Callable[[], Awaitable[T]],
        where: Callable[[], str],
        **audit: object,
    ) -> T:
        self.interrupted = None
        site_id = self.site.profile.site.id
        try:
            await self.lock.acquire(operation, wait_s=self.lock_wait_s)
        except SessionBusyError as exc:
            self.site.emit(
                f"{operation}-refused",
                audit=f"{operation}.refused",
                target=site_id,
                reason=exc.message,
                **audit,
            )
            raise
        try:
            return await work()
        except asyncio.CancelledError:
            self.interrupted = where()
            self.site.emit(
                f"{operation}-interrupted",
                audit=f"{operation}.interrupted",
                target=site_id,
                summary=self.interrupted,
                **audit,
            )
            log.info("%s", self.interrupted)
            raise
        finally:
            self.lock.release()


def resolve_point_ids(profile: Profile, ids: list[str] | None) -> list[str] | None:
    """Point ids as given (NFC), checked against the profile; ConfigError names the known."""
    if not ids:
        return None
    ids = [nfc(i).strip() for i in ids]
    known = [p.id for p in profile.points]
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ConfigError(
            f"unknown point {', '.join(map(repr, unknown))}",
            hint=f"points are: {', '.join(known)}",
        )
    return ids


def resolve_preset(
    point: PointConfig, camera_id: str | None, preset: str | None
) -> tuple[PointConfig, CameraConfig, str, str]:
    """The one rule, for CLI and MQTT alike: a profile preset name, or a token the profile lists."""
    if not point.cameras:
        raise ConfigError(f"point {point.id} has no camera", hint="pick a point with a camera")
    cam_id = nfc(camera_id).strip() if camera_id else point.cameras[0].id
    cam = next((c for c in point.cameras if c.id == cam_id), None)
    if cam is None:
        known = ", ".join(c.id for c in point.cameras)
        raise ConfigError(f"point {point.id} has no camera {cam_id!r}", hint=f"cameras: {known}")
    wanted = nfc(preset).strip() if preset else cam.session_preset
    presets = {nfc(k): v for k, v in cam.presets.items()}
    if wanted in presets:
        return point, cam, wanted, presets[wanted]
    for name, token in presets.items():
        if token == wanted:
            return point, cam, name, token
    known = ", ".join(f"{k} ({v})" for k, v in presets.items())
    raise ConfigError(
        f"camera {point.id}.{cam.id} has no preset {wanted!r}",
        hint=f"presets in the profile: {known}",
    )


def resolve_channel(point: PointConfig, channel: str) -> str:
    """A logical channel of the point's mixer (NFC); ConfigError lists the known ones."""
    assert point.mixer is not None
    wanted = nfc(channel).strip()
    if wanted in point.mixer.channels:
        return wanted
    known = ", ".join(point.mixer.channels)
    raise ConfigError(
        f"mixer {point.id}.{point.mixer.id} has no channel {wanted!r}", hint=f"channels: {known}"
    )
