"""A site at run time: the profile, its devices (borrowed from their owner), the store and audit.

The devices' connections belong to `self.connections` (mcu_control/connections.py): `mcu()`,
`camera()`, `mixer()`, `codec()` borrow the live device from it, which connects it on first
use under the device's own lock, so a drill that touches nine points connects the shared MCU
once. In the daemon the supervisors and the orchestrator share one Site, hence one owner; a
one-shot CLI command's Site owns its short-lived connections and closes them on exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from devices.errors import McuControlError
from devices.interfaces import AudioMixer, Codec, Device, Mcu, MixerEvent, PtzCamera
from mcu_control import factory
from mcu_control.audit import AuditLog, audit_gap
from mcu_control.connections import Connections
from mcu_control.state import StateStore
from profiles.camera import CameraConfig
from profiles.codec import CodecConfig
from profiles.loader import LoadedProfile
from profiles.mcu import McuConfig
from profiles.schema import PointConfig

D = TypeVar("D", bound=Device)


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One step of a session operation (point connected, recording started, interrupted…)."""

    kind: str | None  # the event type on the feed's event stream; None: not published
    audit: str | None  # the audit action; None: not audited
    target: str | None
    data: dict[str, Any] = field(default_factory=dict)


log = logging.getLogger("mcu_control.site")


class Site:
    """One profile's devices (through its `Connections`); `close()` releases them all."""

    def __init__(
        self,
        loaded: LoadedProfile,
        *,
        store: StateStore | None = None,
        audit: AuditLog | None = None,
        actor: str = "cli",
        connections: Connections | None = None,
    ) -> None:
        self.loaded = loaded
        self.profile = loaded.profile
        self.store = store or StateStore()
        if not self.store.points:
            self.store.seed(self.profile)
        self.audit = audit
        self.actor = actor
        #: the one owner of the devices' connections (shared with the supervisors)
        self.connections = connections or Connections(self.store)
        #: who hears the steps' events: the store's event stream, the audit log (in that order)
        self.listeners: list[Callable[[StepEvent], None]] = [self._to_store, self._to_audit]

    def points(self, ids: list[str] | None = None) -> list[PointConfig]:
        """The points named (in profile order), or all; unknown ids are a KeyError naming them."""
        if not ids:
            return list(self.profile.points)
        known = {p.id for p in self.profile.points}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise KeyError(", ".join(unknown))
        return [p for p in self.profile.points if p.id in ids]

    async def mcu(self, mcu_id: str | None = None) -> Mcu:
        """The host MCU, or the site MCU `mcu_id` (a secondary of `mcus:`)."""
        cfg = self.mcu_config(mcu_id)
        return await self._get(
            f"{self.profile.central.id}.{cfg.id}", lambda: factory.build_mcu(self.loaded, cfg)
        )

    def mcu_config(self, mcu_id: str | None = None) -> McuConfig:
        """The profile section of the host MCU (None, or its id) or of a secondary."""
        host = self.profile.mcu
        if mcu_id is None or mcu_id == host.id:
            return host
        for cfg in self.profile.mcus:
            if cfg.id == mcu_id:
                return cfg
        raise KeyError(mcu_id)

    async def codec(self, point: PointConfig) -> Codec:
        return await self._get(
            f"{point.id}.{point.codec.id}",
            lambda: factory.build_codec(self.loaded, point, point.codec),
        )

    async def recorder_probe(self) -> Codec:
        """A reachability probe for the recorder, built like a codec from the recorder section."""
        central = self.profile.central
        rec = central.recorder
        assert rec is not None
        cfg = CodecConfig(
            id=rec.id,
            name=rec.name,
            driver=rec.protocol,
            address=rec.address,
            host=rec.host,
            port=rec.port,
        )
        return await self._get(
            f"{central.id}.{rec.id}", lambda: factory.build_codec(self.loaded, central, cfg)
        )

    async def camera(self, point: PointConfig, cfg: CameraConfig) -> PtzCamera:
        return await self._get(
            f"{point.id}.{cfg.id}", lambda: factory.build_camera(self.loaded, point, cfg)
        )

    async def mixer(self, point: PointConfig) -> AudioMixer:
        mixer = point.mixer
        assert mixer is not None
        return await self._get(
            f"{point.id}.{mixer.id}", lambda: factory.build_mixer(self.loaded, point, mixer)
        )

    async def watch_mixer(
        self,
        point: PointConfig,
        on_event: Callable[[MixerEvent], None],
        *,
        meter_rate_ms: int = 500,
    ) -> None:
        """Hear `point`'s mixer events for the life of the site, across reconnections.

        The subscription is taken now and again by an `on_connected` hook after every
        reconnection by the owner (a DSP that restarted forgot it, and the owner connects a
        new driver instance).
        """
        mixer_cfg = point.mixer
        assert mixer_cfg is not None
        key = f"{point.id}.{mixer_cfg.id}"

        async def resubscribe(_key: str, device: Device) -> None:
            if isinstance(device, AudioMixer):
                await device.subscribe(on_event, meter_rate_ms=meter_rate_ms)

        mixer = await self.mixer(point)
        self.connections.add_hook(key, resubscribe)
        await mixer.subscribe(on_event, meter_rate_ms=meter_rate_ms)

    def emit(
        self, kind: str | None, *, audit: str | None = None, target: str | None = None, **data: Any
    ) -> None:
        """A session step happened: every subscriber hears it (docs/orchestrator.md "Events").

        The state store's event stream (and through it the MQTT feed) gets `kind` with `data`;
        the audit log gets `audit` with `target` and `data`. Either may be None.
        """
        event = StepEvent(kind, audit, target, dict(data))
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a subscriber's failure must not stop the session's work
                log.exception("event subscriber failed on %s", kind or audit)

    def record(self, action: str, target: str | None = None, **data: object) -> None:
        """Append to the audit log if one is attached (never raises into the caller's work)."""
        if self.audit is None:
            return
        try:
            self.audit.append(action, actor=self.actor, target=target, **data)
        except (OSError, McuControlError) as exc:
            audit_gap(self.store, self.audit.path, action, target, exc)

    def _to_store(self, event: StepEvent) -> None:
        if event.kind is not None:
            self.store.event(event.kind, **event.data)

    def _to_audit(self, event: StepEvent) -> None:
        if event.audit is not None:
            self.record(event.audit, target=event.target, **event.data)

    async def close(self) -> None:
        await self.connections.close()

    async def _get(self, key: str, build: Callable[[], D]) -> D:
        return await self.connections.borrow(key, build)


def secondary_limit_s(cfg: McuConfig) -> float:
    """How long a secondary MCU may take to be usable (connect, list, create: 3 × its
    `timeout_s`), so that a dead one costs its points that long and never stalls the rest."""
    return 3 * cfg.timeout_s


def mcu_unanswered(cfg: McuConfig, exc: BaseException, limit_s: float) -> str:
    """Why the site MCU `cfg` cannot take its points, naming it (its error, or the deadline)."""
    return (
        f"MCU {cfg.id} ({cfg.name}) did not answer: {str(exc) or f'no answer within {limit_s:g} s'}"
    )


async def bounded(coro: Awaitable[D], timeout_s: float) -> D:
    """Await with a deadline; the caller turns the TimeoutError into a verdict."""
    async with asyncio.timeout(timeout_s):
        return await coro
