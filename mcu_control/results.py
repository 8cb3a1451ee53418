"""Verdicts and reports of drills and bring-ups, with their stable JSON forms."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mcu_control.exitcodes import Exit


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 — a verdict, not a password
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return {"pass": 0, "warn": 1, "fail": 2}[self.value]

    @property
    def exit_code(self) -> Exit:
        return {"pass": Exit.OK, "warn": Exit.WARNINGS, "fail": Exit.CHECK_FAILED}[self.value]


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most severe verdict; PASS for an empty list."""
    return max(verdicts, key=lambda v: v.rank, default=Verdict.PASS)


@dataclass
class CheckResult:
    point: str
    check: str  # e.g. "codec.reachability", "camera.preset", "call.test"
    verdict: Verdict
    reason: str
    device: str | None = None
    duration_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "check": self.check,
            "device": self.device,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "duration_s": round(self.duration_s, 3),
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        return cls(
            point=d["point"],
            check=d["check"],
            verdict=Verdict(d["verdict"]),
            reason=d["reason"],
            device=d.get("device"),
            duration_s=d.get("duration_s", 0.0),
            data=d.get("data", {}),
        )


@dataclass
class PointResult:
    point: str
    name: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return worst([c.verdict for c in self.checks])

    def to_dict(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "name": self.name,
            "verdict": self.verdict.value,
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PointResult:
        return cls(d["point"], d["name"], [CheckResult.from_dict(c) for c in d["checks"]])


@dataclass
class DrillReport:
    id: str
    site: str
    label: str  # "manual", "T-1d", "T-2h"
    quick: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    points: list[PointResult] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return worst([p.verdict for p in self.points])

    @property
    def exit_code(self) -> Exit:
        return self.verdict.exit_code

    def summary(self) -> dict[str, Any]:
        """The short form published on MQTT and shown on panels."""
        counts = {v.value: sum(1 for p in self.points if p.verdict is v) for v in Verdict}
        return {
            "id": self.id,
            "label": self.label,
            "verdict": self.verdict.value,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "points": {p.point: p.verdict.value for p in self.points},
            "counts": counts,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "label": self.label,
            "quick": self.quick,
            "verdict": self.verdict.value,
            "exit_code": int(self.exit_code),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": round((self.finished_at - self.started_at).total_seconds(), 3)
            if self.finished_at
            else None,
            "points": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DrillReport:
        return cls(
            id=d["id"],
            site=d["site"],
            label=d["label"],
            quick=d["quick"],
            started_at=dt.datetime.fromisoformat(d["started_at"]),
            finished_at=dt.datetime.fromisoformat(d["finished_at"])
            if d.get("finished_at")
            else None,
            points=[PointResult.from_dict(p) for p in d["points"]],
        )


@dataclass
class PointBringup:
    point: str
    name: str
    connected: bool = False
    adopted: bool = False  # already connected before this run
    attempts: int = 0
    address: str | None = None  # the address that connected (or was last tried)
    reason: str = ""  # why it failed, e.g. "busy"
    steps: list[CheckResult] = field(default_factory=list)  # camera preset, mixer unmute
    connect_s: float = 0.0  # dial until connected (or given up), this point's own call chain
    duration_s: float = 0.0  # the whole point: its call, presets and unmute run side by side
    has_microphones: bool = False  # the point has session microphones to unmute
    unmuted: bool = False  # they were unmuted (and read back) by this run

    @property
    def verdict(self) -> Verdict:
        if not self.connected:
            return Verdict.FAIL
        return worst([s.verdict for s in self.steps])

    def to_dict(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "name": self.name,
            "verdict": self.verdict.value,
            "connected": self.connected,
            "adopted": self.adopted,
            "attempts": self.attempts,
            "address": self.address,
            "reason": self.reason,
            "steps": [s.to_dict() for s in self.steps],
            "connect_s": round(self.connect_s, 3),
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class LinkBringup:
    """A call of the session conference that is not a point: the national link, a cascade."""

    id: str  # its participant name on the host MCU
    kind: str  # "upstream" or "cascade"
    name: str  # the upstream's name, or the secondary MCU's name
    mcu: str | None = None  # cascade: the secondary MCU's id
    connected: bool = False
    adopted: bool = False
    attempts: int = 0
    address: str | None = None
    reason: str = ""
    connect_s: float = 0.0

    @property
    def verdict(self) -> Verdict:
        return Verdict.PASS if self.connected else Verdict.FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "mcu": self.mcu,
            "verdict": self.verdict.value,
            "connected": self.connected,
            "adopted": self.adopted,
            "attempts": self.attempts,
            "address": self.address,
            "reason": self.reason,
            "connect_s": round(self.connect_s, 3),
        }


@dataclass
class BringupReport:
    site: str
    conference: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    points: list[PointBringup] = field(default_factory=list)
    recording: bool = False
    recording_reason: str = ""
    conference_created: bool = False
    #: the national link and the cascade links to secondary MCUs (empty: one MCU, not national)
    links: list[LinkBringup] = field(default_factory=list)
    #: which MCU each dialled point is on (mcu id -> point ids), when the site has several
    placement: dict[str, list[str]] = field(default_factory=dict)

    @property
    def connected(self) -> int:
        return sum(1 for p in self.points if p.connected)

    @property
    def verdict(self) -> Verdict:
        own = Verdict.PASS if self.recording else Verdict.FAIL
        return worst([own, *(p.verdict for p in self.points), *(lnk.verdict for lnk in self.links)])

    @property
    def exit_code(self) -> Exit:
        return self.verdict.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "conference": self.conference,
            "conference_created": self.conference_created,
            "verdict": self.verdict.value,
            "exit_code": int(self.exit_code),
            "connected": self.connected,
            "total": len(self.points),
            "recording": self.recording,
            "recording_reason": self.recording_reason,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": round((self.finished_at - self.started_at).total_seconds(), 3)
            if self.finished_at
            else None,
            "points": [p.to_dict() for p in self.points],
            "links": [lnk.to_dict() for lnk in self.links],
            "placement": {m: list(ids) for m, ids in self.placement.items()},
        }
