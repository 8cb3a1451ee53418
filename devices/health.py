"""The shared health model: every device reports one of four states with a reason."""

from __future__ import annotations

import datetime as dt
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


def worst(readings: list[Health]) -> HealthState:
    """Aggregate state of several readings (UNKNOWN when there are none)."""
    if not readings:
        return HealthState.UNKNOWN
    return max((r.state for r in readings), key=lambda s: s.rank)
