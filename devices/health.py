"""The shared health model: every device reports one of four states with a reason."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class HealthState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Severity for aggregation: a point is as unhealthy as its worst device."""
        return _RANK[self]


_RANK = {HealthState.OK: 0, HealthState.UNKNOWN: 1, HealthState.DEGRADED: 2, HealthState.DOWN: 3}


def utcnow() -> dt.datetime:
    """Timezone-aware now, the only form of time the device layer stores."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Health:
    """A health reading: state, why, when it was taken, and device-specific figures."""

    state: HealthState
    reason: str = ""
    checked_at: dt.datetime = field(default_factory=utcnow)
    details: dict[str, str | int | float | bool | None] = field(default_factory=dict)

    @classmethod
    def ok(cls, reason: str = "", **details: str | int | float | bool | None) -> Health:
        return cls(HealthState.OK, reason, details=dict(details))

    @classmethod
    def degraded(cls, reason: str, **details: str | int | float | bool | None) -> Health:
        return cls(HealthState.DEGRADED, reason, details=dict(details))

    @classmethod
    def down(cls, reason: str, **details: str | int | float | bool | None) -> Health:
        return cls(HealthState.DOWN, reason, details=dict(details))

    @classmethod
    def unknown(cls, reason: str = "not checked yet") -> Health:
        return cls(HealthState.UNKNOWN, reason)

    def to_dict(self) -> dict[str, object]:
        """JSON form used by the CLI, the state store and MQTT."""
        return {
            "state": self.state.value,
            "reason": self.reason,
            "checked_at": self.checked_at.isoformat(),
            "details": dict(self.details),
        }


#: detail figures that move at every read (measurement noise, a running counter), with the change
#: that is news: a reading whose only change is within these is kept, and sent to subscribers
#: at the next real change or refresh (mcu_control/state.py, MEASUREMENT_REFRESH_S)
DEADBANDS: dict[str, float] = {
    # SIP OPTIONS / H.323 connect round trip: a LAN's jitter is under 1 ms, a WAN link's a few
    "rtt_ms": 5.0,
    # SNMP sysUpTime grows at every read; a reboot is reported as such (`rebooted`)
    "uptime_s": math.inf,
    # ONVIF clock offset (0.1 s steps): the round-trip midpoint wobbles by a few tenths
    "clock_offset_s": 1.0,
}


def within_deadband(old: Mapping[str, object], new: Mapping[str, object]) -> bool:
    """True if `new` differs from `old` only by figures within their `DEADBANDS`."""
    if old.keys() != new.keys():
        return False
    for key, value in new.items():
        before = old[key]
        if value == before:
            continue
        band = DEADBANDS.get(key)
        if (
            band is None
            or isinstance(value, bool)
            or isinstance(before, bool)
            or not isinstance(value, int | float)
            or not isinstance(before, int | float)
            or abs(value - before) > band
        ):
            return False
    return True


def worst(readings: list[Health]) -> HealthState:
    """Aggregate state of several readings (UNKNOWN when there are none)."""
    if not readings:
        return HealthState.UNKNOWN
    return max((r.state for r in readings), key=lambda s: s.rank)
