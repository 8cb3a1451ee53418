"""The one state store: what every point and device is doing now.

Supervisors, the orchestrator and the scheduler write here; the MQTT feed, the CLI `status`
and reports read from here. Writers pass whole records; the store keeps only real changes
and tells subscribers about them, so the feed publishes on change and never polls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from devices.health import HealthState, within_deadband

if TYPE_CHECKING:
    from profiles.schema import Profile


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PointPhase(StrEnum):
    """What a room panel shows for a bridge point."""

    UNKNOWN = "unknown"
    READY = "ready"  # devices healthy, not in a call
    CONNECTING = "connecting"  # being dialled
    IN_SESSION = "in-session"  # connected to the conference
    DEGRADED = "degraded"  # connected or ready, but a device or the link is unwell
    OFFLINE = "offline"  # unreachable or the call failed


class SessionPhase(StrEnum):
    IDLE = "idle"
    DRILL = "drill"
    BRINGUP = "bringup"
    IN_SESSION = "in-session"
    TEARDOWN = "teardown"


DeviceKind = Literal["mcu", "recorder", "codec", "camera", "mixer"]


@dataclass(frozen=True, slots=True)
class DeviceState:
    id: str  # "<point>.<device>", e.g. "tien-du.cam1"
    point: str
    kind: DeviceKind
    name: str
    driver: str
    health: HealthState = HealthState.UNKNOWN
    reason: str = ""  # technician text: device topics and the CLI only, never a room panel
    connected: bool = False
    #: the supervisor's LinkState: connecting, ready, backoff or stopped (not supervised)
    link: str = "stopped"
    details: dict[str, Any] = field(default_factory=dict)  # JSON-ready, no secrets
    checked_at: dt.datetime | None = None
    error_kind: str | None = None  # `kind` of the error of the last failed read (devices.errors)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["health"] = self.health.value
        out["checked_at"] = self.checked_at.isoformat() if self.checked_at else None
        return out


@dataclass(frozen=True, slots=True)
class PointState:
    id: str
    name: str  # Vietnamese label from the profile
    role: Literal["central", "component"]
    phase: PointPhase = PointPhase.UNKNOWN
    reason: str = ""
    call_state: str | None = None  # the MCU's view of this point's call
    packet_loss_pct: float | None = None
    recording: bool | None = None  # central point only: recording link connected
    updated_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["phase"] = self.phase.value
        out["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return out


class LinkPhase(StrEnum):
    """Where a session link (national upstream, cascade between MCUs) stands."""

    PLANNED = "planned"  # the session will need it; not dialled yet
    CONNECTING = "connecting"
    CONNECTED = "connected"  # the host MCU showed the call connected
    FAILED = "failed"  # dialled and not connected (reason says why)


@dataclass(frozen=True, slots=True)
class SessionLink:
    """A call of the session conference that is not a point: the national link, a cascade."""

    id: str  # its participant name on the host MCU (profiles/naming.py)
    kind: Literal["upstream", "cascade"]
    name: str  # what people read: the upstream's name, or the secondary MCU's name
    phase: LinkPhase = LinkPhase.PLANNED
    reason: str = ""
    mcu: str | None = None  # cascade: the secondary MCU's id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "phase": self.phase.value,
            "reason": self.reason,
            "mcu": self.mcu,
        }


@dataclass(frozen=True, slots=True)
class SessionState:
    phase: SessionPhase = SessionPhase.IDLE
    session_id: str | None = None
    title: str | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    recording: bool = False
    points: tuple[str, ...] | None = None  # the session's roster (point ids); None: every point
    national: bool = False  # the session joins the national reception office (`upstream`)
    links: tuple[SessionLink, ...] = ()  # the upstream and cascade links, as last known

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "session_id": self.session_id,
            "title": self.title,
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "recording": self.recording,
            "points": list(self.points) if self.points is not None else None,
            "national": self.national,
            "links": [link.to_dict() for link in self.links],
        }


ChangeKind = Literal["point", "device", "session", "drill", "event"]


#: the longest a subscriber goes without a device's latest figures while only they move
MEASUREMENT_REFRESH_S = 300.0


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    key: str  # point id, device id, "session", "drill", or the event type
    payload: dict[str, Any]


class StateStore:
    """In-memory state with change notification; safe to use from one event loop."""

    def __init__(self, clock: Callable[[], dt.datetime] = _now) -> None:
        self._clock = clock
        self.points: dict[str, PointState] = {}
        self.devices: dict[str, DeviceState] = {}
        self.session = SessionState()
        self.last_drill: dict[str, Any] | None = None
        # set while the recording check sees no file growing ("Không ghi hình: …"): the central
        # point's `recording` stays false even though the recorder's call is up
        self.recording_alert: str | None = None
        self._subscribers: list[asyncio.Queue[Change]] = []
        self._told: dict[str, DeviceState] = {}  # each device as subscribers last heard of it

    def seed(self, profile: Profile) -> None:
        """One UNKNOWN record per point and device of the profile, with its Vietnamese name."""
        for pt in profile.points:
            self.put_point(PointState(pt.id, pt.name, pt.role))
            devices: list[tuple[str, DeviceKind, str, str]] = [
                (pt.codec.id, "codec", pt.codec.name, pt.codec.driver)
            ]
            devices += [(c.id, "camera", c.name, c.driver) for c in pt.cameras]
            if pt.mixer is not None:
                devices.append((pt.mixer.id, "mixer", pt.mixer.name, pt.mixer.driver))
            if pt.mcu is not None:
                devices.append((pt.mcu.id, "mcu", pt.mcu.name, pt.mcu.driver))
                # the site's further MCUs (cascaded), kept by the central point
                devices += [(m.id, "mcu", m.name, m.driver) for m in profile.mcus]
            if pt.recorder is not None:
                devices.append((pt.recorder.id, "recorder", pt.recorder.name, pt.recorder.protocol))
            for dev_id, kind, name, driver in devices:
                self.put_device(DeviceState(f"{pt.id}.{dev_id}", pt.id, kind, name, driver))

    def subscribe(self, maxsize: int = 10_000) -> asyncio.Queue[Change]:
        """A queue receiving every later change; a full queue drops the oldest change."""
        q: asyncio.Queue[Change] = asyncio.Queue(maxsize)
        self._subscribers.append(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Change]) -> None:
        if q in self._subscribers:
            self._subscribers.remove(q)

    def put_point(self, state: PointState) -> bool:
        """Store a point's state; True (and subscribers told) only if it changed."""
        old = self.points.get(state.id)
        if old is not None and replace(old, updated_at=None) == replace(state, updated_at=None):
            return False
        state = replace(state, updated_at=self._clock())
        self.points[state.id] = state
        self._notify(Change("point", state.id, state.to_dict()))
        return True

    def update_point(self, point_id: str, **changes: Any) -> bool:
        old = self.points[point_id]
        if _same(old, changes):  # the call supervisor re-states every point every few seconds
            return False
        return self.put_point(replace(old, **changes))

    def put_device(self, state: DeviceState) -> bool:
        """Store a device's state; True (and subscribers told) only if it changed.

        A change only in figures that move at every read (rtt, uptime, clock offset) within
        their deadband (devices.health.DEADBANDS) is stored — `status` shows it — but
        subscribers (the MQTT feed) hear of it with the next real change, or once
        `MEASUREMENT_REFRESH_S` has passed since they last heard of this device.
        """
        old = self.devices.get(state.id)
        if old is not None and replace(old, checked_at=None) == replace(state, checked_at=None):
            return False
        state = replace(state, checked_at=state.checked_at or self._clock())
        self.devices[state.id] = state
        told = self._told.get(state.id)
        if told is not None and _only_measurements_moved(told, state):
            return False
        self._told[state.id] = state
        self._notify(Change("device", state.id, state.to_dict()))
        return True

    def update_device(self, device_id: str, **changes: Any) -> bool:
        old = self.devices[device_id]
        if _same(old, changes):
            return False
        return self.put_device(replace(old, checked_at=None, **changes))

    def set_session(self, state: SessionState) -> bool:
        if state == self.session:
            return False
        self.session = state
        self._notify(Change("session", "session", state.to_dict()))
        return True

    def set_last_drill(self, summary: dict[str, Any]) -> None:
        self.last_drill = summary
        self._notify(Change("drill", "drill", summary))

    def event(self, kind: str, /, **payload: Any) -> None:
        """A one-off event (not state): drill started, point failed, command received.

        `kind` is positional-only so a payload may carry its own `kind` field (a scheduler
        job's kind: drill, bringup, …) without colliding with the event type.
        """
        self._notify(
            Change("event", kind, {"type": kind, "at": self._clock().isoformat(), **payload})
        )

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-ready: what `status --json` prints and the feed republishes."""
        return {
            "points": [p.to_dict() for p in self.points.values()],
            "devices": [d.to_dict() for d in self.devices.values()],
            "session": self.session.to_dict(),
            "last_drill": self.last_drill,
        }

    def _notify(self, change: Change) -> None:
        for q in self._subscribers:
            if q.full():
                q.get_nowait()  # a stalled reader loses the oldest change, never blocks writers
            q.put_nowait(change)


def _only_measurements_moved(told: DeviceState, now: DeviceState) -> bool:
    """`now` differs from what subscribers were `told` only within deadbands, and not for long."""
    if told.checked_at is None or now.checked_at is None:
        return False
    if (now.checked_at - told.checked_at).total_seconds() >= MEASUREMENT_REFRESH_S:
        return False
    if replace(told, checked_at=None, details={}) != replace(now, checked_at=None, details={}):
        return False
    return within_deadband(told.details, now.details)


def _same(state: object, changes: dict[str, Any]) -> bool:
    """True if applying `changes` to `state` would change nothing."""
    return all(getattr(state, k) == v for k, v in changes.items())
